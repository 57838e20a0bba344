// The server sends each map as base64: float32 little-endian, or bools packed eight to a byte, MSB first.

export const QUANTITIES = ["attention", "attribution", "candidate", "dropped"];

export function decode(encoded) {
  const binary = atob(encoded.data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const count = encoded.shape.reduce((a, b) => a * b, 1);
  let values;
  if (encoded.dtype === "bool") {
    values = new Uint8Array(count);
    for (let i = 0; i < count; i++) values[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  } else {
    values = new Float32Array(bytes.buffer, 0, count);
  }
  return { shape: encoded.shape, values };
}

export function decodeAll(payload) {
  const maps = {};
  for (const key of QUANTITIES) if (payload[key]) maps[key] = decode(payload[key]);
  return maps;
}
