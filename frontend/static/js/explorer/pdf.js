// The figure for a paper as PDF: its SVG (as Plotly writes it) drawn into one PDF page of the same size by jsPDF
// and svg2pdf.js, so text, outlines and marks stay vectors and the maps stay images, as in the SVG. The figure's
// font is embedded: Liberation Sans, which has Arial's metrics (Plotly laid the text out for Arial), and prints
// characters PDF's standard fonts cannot (Plotly's minus sign, a token's arrow or accent). The libraries and the
// font are vendored and loaded on the first PDF export only.

export const VENDOR = {
  jspdf: "/static/vendor/jspdf/jspdf.umd.min.js",
  svg2pdf: "/static/vendor/svg2pdf.js/svg2pdf.umd.min.js",
  font: "/static/vendor/fonts-liberation2/LiberationSans-Regular.ttf",
};
const FONT_FILE = "LiberationSans-Regular.ttf";
const FONT_NAME = "LiberationSans";  // the embedded font's name in the PDF

let loading = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement("script"), { src, async: false });
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

// The bytes of buffer as base64 (what jsPDF's virtual file system takes), in chunks that fit an argument list.
export function base64Of(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let at = 0; at < bytes.length; at += 0x8000) binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(binary);
}

// fontFamily (a CSS font-family list) with the embedded font first: svg2pdf.js draws a text in the first family
// of its list that the PDF holds, and would otherwise fall back to Helvetica, which lacks Plotly's minus sign.
export function embeddedFirst(fontFamily) {
  return fontFamily ? `${FONT_NAME}, ${fontFamily}` : FONT_NAME;
}

// {jsPDF, font}: the libraries, loaded once (a failed load is tried again on the next export).
function libraries() {
  loading ??= (async () => {
    await loadScript(VENDOR.jspdf);
    await loadScript(VENDOR.svg2pdf);
    const answer = await fetch(VENDOR.font);
    if (!answer.ok) throw new Error(`could not load the PDF font (${answer.status})`);
    return { jsPDF: window.jspdf.jsPDF, font: base64Of(await answer.arrayBuffer()) };
  })().catch((error) => {
    loading = null;
    throw error;
  });
  return loading;
}

// A Blob of the PDF of svgText, a page of width × height points (the SVG's pixels, as PDF points), its text in
// the embedded font.
export async function svgToPdf(svgText, width, height) {
  const { jsPDF, font } = await libraries();
  const svg = new DOMParser().parseFromString(svgText, "image/svg+xml").documentElement;
  if (svg.nodeName !== "svg") throw new Error("the figure's SVG could not be read");
  svg.querySelectorAll("[style*='font-family']").forEach((node) => { node.style.fontFamily = embeddedFirst(node.style.fontFamily); });
  const doc = new jsPDF({ unit: "pt", format: [width, height], orientation: width > height ? "landscape" : "portrait",
    compress: true });
  doc.addFileToVFS(FONT_FILE, font);
  doc.addFont(FONT_FILE, FONT_NAME, "normal");
  await doc.svg(svg, { x: 0, y: 0, width, height });
  return doc.output("blob");
}
