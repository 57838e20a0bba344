// What is painted over a Plotly figure (the canvas maps and marks, the query row's outline) follows its
// axes: after every redraw and relayout, and also while a wheel zoom or a pan drag is under way, when
// Plotly has already moved the axes but redraws only once the gesture rests; those repaints run at most
// once per animation frame.

export function followView(figure, repaint) {
  let pending = false;
  const repaintSoon = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; repaint(); });
  };
  figure.on("plotly_afterplot", repaint);
  figure.on("plotly_relayout", repaint);
  figure.on("plotly_relayouting", repaintSoon);
}
