"""The CUDA paths against the same CPU references as the rest of the suite (skipped where no GPU is present):
attribution, masks, pass 2 with SDPA's GPU kernels, mixed-precision training, fine-tuning and the explorer."""

from pathlib import Path

import pytest
import torch
from tests.test_attribution import looped_integrated_gradients, make_pair, reference_ga
from tests.test_trainer import pad, synthetic
from tests.tiny_models import save_tiny_model, tiny_batch, tiny_config
from transformers import AutoModelForSequenceClassification, BertForSequenceClassification, TrainingArguments

from addrop import ADDrop, ADDropConfig, ADDropTrainer, attribute, discard_masks, masked_forward
from addrop.callbacks import MetricsReporter
from addrop.explain import explain
from addrop.models import load_tokenizer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


def to(inputs: dict, device) -> dict:
    return {k: v.to(device) for k, v in inputs.items()}


@pytest.mark.parametrize("arch", ["bert", "roberta", "electra", "distilbert"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_ga_on_cuda_equals_the_cpu_reference(arch, attn):
    model, reference = make_pair(arch, attn=attn)
    inputs = tiny_batch()
    expected, attention, logits = reference_ga(reference, inputs, (0, 2))
    result = attribute(model.to(CUDA), to(inputs, CUDA), "GA", (0, 2), return_attention=True)
    assert result.attribution.is_cuda
    torch.testing.assert_close(result.attribution.cpu(), expected, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(result.attention.cpu(), attention, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(result.pseudo_labels.cpu(), logits.argmax(-1))


def test_ga_in_float32_with_sdpa_gpu_kernels():
    """float32 runs SDPA's fused CUDA kernels; the attribution must still match the float64 reference."""
    model, reference = make_pair("bert")
    inputs = tiny_batch()
    expected, _, _ = reference_ga(reference, inputs, (0, 1, 2))
    result = attribute(model.float().to(CUDA), to(inputs, CUDA), "GA", (0, 1, 2), return_attention=False)
    assert result.attribution.dtype == torch.float32
    scale = float(expected.abs().max())
    torch.testing.assert_close(result.attribution.double().cpu(), expected, rtol=1e-3, atol=1e-5 * scale)


def test_iga_on_cuda_equals_the_looped_definition():
    model, reference = make_pair("roberta")
    inputs = tiny_batch()
    expected, labels = looped_integrated_gradients(reference, inputs, 1, steps=7)
    result = attribute(model.to(CUDA), to(inputs, CUDA), "IGA", (1,), steps=7)
    torch.testing.assert_close(result.attribution[0].cpu(), expected, rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(result.pseudo_labels.cpu(), labels)


def test_masks_on_cuda_match_the_cpu_masks_and_keep_their_properties():
    scores = torch.randn(2, 3, 4, 9, 9, dtype=torch.float64)
    mask = tiny_batch()["attention_mask"]
    on_cpu = discard_masks(scores, mask, 0.4, 0.5, generator=torch.Generator().manual_seed(1))
    on_gpu = discard_masks(scores.to(CUDA), mask.to(CUDA), 0.4, 0.5, generator=torch.Generator().manual_seed(1))
    for cpu, gpu in zip(on_cpu, on_gpu):
        assert gpu.is_cuda and torch.equal(cpu, gpu.cpu())

    big = torch.randn(64, 4, 32, 32, device=CUDA)
    valid = torch.ones(64, 32, dtype=torch.long, device=CUDA)
    valid[32:, 20:] = 0
    candidate, dropped = discard_masks(big, valid, 0.3, 0.6, generator=torch.Generator(device=CUDA).manual_seed(0))
    counts = candidate.sum(-1)
    assert (counts[:32] == 10).all() and (counts[32:, :, :20] == 6).all()  # ceil(0.3 * 32), ceil(0.3 * 20)
    assert not candidate[32:, ..., 20:].any()
    assert abs(float(dropped.sum() / candidate.sum()) - 0.6) < 0.01
    assert (~dropped | candidate).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_pass_two_on_cuda_zeroes_dropped_attention_and_sdpa_agrees_with_eager(dtype):
    torch.manual_seed(0)
    eager = AutoModelForSequenceClassification.from_config(
        tiny_config("bert", num_labels=2), attn_implementation="eager"
    ).to(CUDA, dtype).eval()
    sdpa = AutoModelForSequenceClassification.from_config(
        tiny_config("bert", num_labels=2), attn_implementation="sdpa"
    ).to(CUDA, dtype).eval()
    sdpa.load_state_dict(eager.state_dict())
    inputs = to(tiny_batch(), CUDA)
    plan = ADDrop(eager, ADDropConfig("GA", p=0.5, q=0.5, layers=(0, 2))).plan(inputs)
    assert plan.dropped.is_cuda and plan.dropped.any()
    recorded = masked_forward(eager, inputs | {"output_attentions": True}, plan.masks).attentions
    for index, layer in enumerate((0, 2)):
        assert (recorded[layer][plan.dropped[index]] == 0).all()
    tolerance = {} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    torch.testing.assert_close(
        masked_forward(sdpa, inputs, plan.masks).logits, masked_forward(eager, inputs, plan.masks).logits, **tolerance
    )


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_addrop_trainer_trains_on_cuda(tmp_path, precision):
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", dropout=0.1, num_labels=2))
    events = []
    args = TrainingArguments(
        output_dir=str(tmp_path), num_train_epochs=2, per_device_train_batch_size=8, logging_steps=1,
        report_to="none", save_strategy="no", eval_strategy="epoch", disable_tqdm=True,
        bf16=precision == "bf16", fp16=precision == "fp16",
    )
    trainer = ADDropTrainer(
        model=model, args=args, train_dataset=synthetic(), eval_dataset=synthetic(16, seed=1), data_collator=pad,
        addrop=ADDropConfig("GA", p=0.3, q=0.3, layers=(0, 1, 2)), callbacks=[MetricsReporter(events.append)],
    )
    plans = []
    original = trainer._addrop.plan

    def recording(inputs, **kwargs):
        plans.append(inputs["input_ids"].device)
        return original(inputs, **kwargs)

    trainer._addrop.plan = recording
    trainer.train()
    assert next(trainer.model.parameters()).is_cuda
    assert len(plans) == 4 and all(device.type == "cuda" for device in plans)  # epoch 2 of 2 is the AD-DROP one
    losses = [e.values["loss"] for e in events if e.kind == "step"]
    assert len(losses) == 8 and all(torch.isfinite(torch.tensor(losses)))


@pytest.mark.slow
def test_finetune_on_cuda_with_real_data(shared_data, tmp_path):
    from addrop.finetune import FinetuneConfig, finetune

    config = FinetuneConfig(
        task="sst2", data_dir=str(shared_data / "glue" / "sst2"), output_dir=str(tmp_path / "run"),
        max_train_samples=256, max_eval_samples=128, epochs=2, batch_size=16, learning_rate=5e-5,
        patience=None, device="cuda", precision="bf16", logging_steps=1,
    )
    result = finetune(config, progress=False)
    losses = [e["values"]["loss"] for e in result.history if e["kind"] == "step" and "loss" in e["values"]]
    assert sum(losses[-4:]) < sum(losses[:4])
    assert (Path(result.best_checkpoint) / "model.safetensors").is_file()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny"), BertForSequenceClassification, "minilm", layers=2)


def test_explain_and_the_explorer_service_on_cuda(tiny_dir, tmp_path):
    from backend.encoding import decode_array
    from backend.explainer import Explainer
    from backend.schemas.explain import ExplainRequest
    from backend.settings import Settings

    tokenizer = load_tokenizer(str(tiny_dir))
    model = BertForSequenceClassification.from_pretrained(tiny_dir).double().eval()
    text = ("The film was long.", "It was not dull.")
    on_cpu = explain(model, tokenizer, *text, method="GA", p=0.4, q=0.5, seed=3)
    on_gpu = explain(model.to(CUDA), tokenizer, *text, method="GA", p=0.4, q=0.5, seed=3)
    assert on_gpu.attribution.is_cuda
    torch.testing.assert_close(on_gpu.attribution.cpu(), on_cpu.attribution, rtol=1e-9, atol=1e-12)
    assert torch.equal(on_gpu.dropped.cpu(), on_cpu.dropped) and torch.equal(on_gpu.candidate.cpu(), on_cpu.candidate)

    request = ExplainRequest(text=text[0], text_pair=text[1], model=tiny_dir.name, method="IGA", steps=5)
    answers = {
        device: Explainer(Settings(data_dir=tmp_path / device, models=[str(tiny_dir)], explain_device=device))
        .explain(request)
        for device in ("cpu", "cuda")
    }
    cpu, gpu = answers["cpu"], answers["cuda"]
    assert gpu.tokens == cpu.tokens and gpu.prediction == cpu.prediction
    assert gpu.probabilities == pytest.approx(cpu.probabilities, abs=1e-5)
    for field in ("attention", "attribution"):
        torch.testing.assert_close(
            torch.from_numpy(decode_array(getattr(gpu, field))), torch.from_numpy(decode_array(getattr(cpu, field))),
            rtol=1e-3, atol=1e-6,
        )
