# AD-DROP Studio: one image for the API and the job workers.
# Build for GPUs (default) or CPU only: docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu .
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HOME=/cache/huggingface \
    ADDROP_DATA_DIR=/data

RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# torch first, from the chosen index, so the project's "torch>=2.4" does not pull another build
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
COPY pyproject.toml README.md ./
COPY addrop ./addrop
COPY jobstore ./jobstore
COPY backend ./backend
COPY worker ./worker
COPY frontend ./frontend
RUN pip install ".[web,worker]"

RUN useradd --create-home --uid 1000 studio && mkdir -p /data /cache && chown studio /data /cache
USER studio
EXPOSE 8000
CMD ["addrop-studio", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
