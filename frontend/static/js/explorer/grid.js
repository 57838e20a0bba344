// The model view: every layer and head as a small canvas, one pixel per cell, each scaled to its own range.

import { element } from "./dom.js";

// sqrt: small weights stay visible in a thumbnail.
export function ramp([from, to], t) {
  const s = Math.sqrt(Math.max(0, Math.min(1, t)));
  return from.map((c, i) => Math.round(c + (to[i] - c) * s));
}

// The RGB of every cell of one thumbnail, as n*n triples.
export function thumbnailColours(maps, quantity, layer, head, n) {
  const offset = ((layer * maps.candidate.shape[1] + head) * n) * n;
  const cand = maps.candidate.values, drop = maps.dropped.values;
  const values = quantity === "mask" ? null : maps[quantity].values;
  let scale = 0;
  if (values) for (let k = 0; k < n * n; k++) scale = Math.max(scale, Math.abs(values[offset + k]));
  scale = scale || 1;
  const colours = [];
  for (let k = 0; k < n * n; k++) {
    if (quantity === "mask") colours.push(drop[offset + k] ? [214, 39, 40] : cand[offset + k] ? [255, 207, 135] : [243, 245, 249]);
    else if (quantity === "attention") colours.push(ramp([[255, 255, 255], [11, 42, 102]], values[offset + k] / scale));
    else {
      const v = values[offset + k] / scale;
      colours.push(v >= 0 ? ramp([[247, 247, 247], [178, 24, 43]], v) : ramp([[247, 247, 247], [33, 102, 172]], -v));
    }
  }
  return colours;
}

function paintThumbnail(canvas, colours, n) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(n, n);
  colours.forEach((rgb, k) => image.data.set([rgb[0], rgb[1], rgb[2], 255], k * 4));
  context.putImageData(image, 0, 0);
}

export function drawGrid(container, { meta, maps, quantity }, layers, heads, selected, onOpen) {
  container.replaceChildren();
  container.style.gridTemplateColumns = `36px repeat(${heads.length}, minmax(40px, 1fr))`;
  container.appendChild(element("div", "corner", ""));
  heads.forEach((h) => container.appendChild(element("div", "col-label", `H${h}`)));
  const n = meta.tokens.length;
  for (const layer of layers) {
    container.appendChild(element("div", "row-label", `L${layer}`));
    for (const head of heads) {
      const canvas = document.createElement("canvas");
      canvas.width = n; canvas.height = n;
      canvas.title = `layer ${layer}, head ${head}`;
      canvas.dataset.layer = layer; canvas.dataset.head = head;
      if (layer === selected.layer && String(head) === String(selected.head)) canvas.classList.add("selected");
      paintThumbnail(canvas, thumbnailColours(maps, quantity, layer, head, n), n);
      canvas.addEventListener("click", () => onOpen(layer, head));
      container.appendChild(canvas);
    }
  }
}

// The visible grid as one PNG: each map at 3 px per cell, with layer and head labels.
export function gridPng(container) {
  const canvases = [...container.querySelectorAll("canvas")];
  if (!canvases.length) return Promise.resolve(null);
  const layers = [...new Set(canvases.map((c) => Number(c.dataset.layer)))];
  const heads = [...new Set(canvases.map((c) => Number(c.dataset.head)))];
  const n = canvases[0].width, cell = Math.max(96, n * 3), gap = 8, label = 40;
  const out = document.createElement("canvas");
  out.width = label + heads.length * (cell + gap);
  out.height = label + layers.length * (cell + gap);
  const context = out.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, out.width, out.height);
  context.imageSmoothingEnabled = false;
  context.fillStyle = "#677086";
  context.font = "600 14px sans-serif";
  context.textAlign = "center";
  heads.forEach((h, j) => context.fillText(`H${h}`, label + j * (cell + gap) + cell / 2, 24));
  context.textAlign = "right";
  layers.forEach((l, i) => context.fillText(`L${l}`, label - 8, label + i * (cell + gap) + cell / 2 + 5));
  for (const canvas of canvases) {
    const i = layers.indexOf(Number(canvas.dataset.layer)), j = heads.indexOf(Number(canvas.dataset.head));
    context.drawImage(canvas, label + j * (cell + gap), label + i * (cell + gap), cell, cell);
  }
  return new Promise((resolve) => out.toBlob(resolve, "image/png"));
}
