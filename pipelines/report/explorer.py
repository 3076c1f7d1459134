"""The latent explorer: one self-contained HTML page per dataset (`explorer-<dataset>.html` beside the report) in
which a person moves the champion's latents and sees the decoded sample change, over a test sample of their
choice. It works from file:// with no network and no external script: the decoder's weights are embedded as
base64 float32 (about 110k numbers) and run by a small hand-written JavaScript MLP (Linear, ReLU, ..., Linear;
a sigmoid for the Bernoulli likelihood; then the model's scale and offset back to data units).

One slider per latent, ordered by KL (most informative first), from -3 to 3 in prior units, labelled with the
factor it tracks best and its |Spearman rho| (the metrics stage's `latents`); inactive latents are greyed and
fixed at 0. A picker of test samples sets the sliders to a sample's encoded means; "sample from the prior" draws
every active latent from N(0, 1); "reset" goes back to the chosen sample. Every channel is drawn (a beat and its
RR channel; a price path and its range), the input in grey under the decoded sample, axes in data units.
`window.explorer` exposes `decodeStandardized(z)`, `decode(z)` and `setLatent(i, value)` for tests.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import torch

from pipelines.dataset import TrainingSet
from pipelines.storage import write_text
from pipelines.vae.model import BetaVAE

SAMPLES = 24  # test samples in the picker


def explorer_payload(model: BetaVAE, data: TrainingSet, latents: list[dict], samples: int = SAMPLES) -> dict:
    """What the page embeds: the decoder's layers (base64 float32, weights row-major (out, in)), the scale, the
    channels and their axis, the latents' labels, and `samples` test samples spread over the split with their
    encoded means."""
    layers = [m for m in model.decoder if isinstance(m, torch.nn.Linear)]
    test = data.part("test")
    rows = np.unique(np.linspace(0, len(test) - 1, min(samples, len(test))).round().astype(int))
    with torch.no_grad():
        mu = model.encode(torch.as_tensor(test.x[rows]))[0].numpy()
    return {
        "layers": [{"w": _b64(m.weight), "b": _b64(m.bias), "n_in": m.in_features, "n_out": m.out_features}
                   for m in layers],  # fmt: skip
        "x_mean": float(model.x_mean), "x_std": float(model.x_std),
        "bernoulli": model.cfg.likelihood == "bernoulli", "latent_dim": model.cfg.latent_dim,
        "channels": data.channel_names, "axis": [float(a) for a in data.axis], "axis_label": data.axis_label,
        "value_label": data.value_label,
        "latents": sorted(latents, key=lambda lb: -lb["kl"]),
        "samples": [{"label": _label(test, r), "x": np.round(test.x[r].astype(float), 6).tolist(),
                     "mu": np.round(m.astype(float), 6).tolist()} for r, m in zip(rows, mu, strict=True)],
    }  # fmt: skip


def build_explorer(model: BetaVAE, data: TrainingSet, latents: list[dict], out: str | Path, title: str) -> Path:
    """Write the explorer page of `model` (its decoder, `latents` labels) over `data`'s test samples to `out`."""
    payload = json.dumps(explorer_payload(model, data, latents)).replace("</", "<\\/")
    page = TEMPLATE.replace("__TITLE__", html.escape(title)).replace("__PAYLOAD__", payload)
    return write_text(Path(out), page)


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.detach().cpu().numpy().astype("<f4").tobytes()).decode()


def _label(test: TrainingSet, row: int) -> str:
    labels = test.labels.iloc[row]
    if "record" in labels:
        where = f"{labels['record']} {labels.get('lead', '')}".strip()
        return f"{where} @ {labels['beat_time_s']:.2f} s" if "beat_time_s" in labels else f"{where} #{row}"
    return str(labels["start"]) if "start" in labels else f"test sample {row}"


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.2em;color:#222;max-width:1300px}
#main{display:flex;gap:2em;align-items:flex-start}#controls{min-width:330px}
.latent{margin:.35em 0}.latent label{display:block;font-size:.85em}.latent input{width:300px}
.latent.inactive{color:#aaa}.latent.inactive input{opacity:.4}
button,select{margin:.2em .3em .6em 0;font-size:.9em}svg{background:#fafafa;border:1px solid #ddd;margin-bottom:.8em}
.note{color:#666;font-size:.85em;max-width:60em}
</style></head><body>
<h1>__TITLE__</h1>
<p class="note">Move a latent and the decoded sample (blue) changes; grey is the test sample the sliders started
from (its encoded means). Sliders are in prior units (the prior is N(0, 1)), ordered by KL, each labelled with the
factor it tracks best on the test split and that |Spearman ρ|; greyed latents are inactive (KL ≤ 0.01 nats) and
stay at 0. The decoder runs here, in this page: no network.</p>
<div id="main"><div id="controls">
<label>Test sample <select id="picker"></select></label><br>
<button id="prior">Sample from the prior</button><button id="reset">Reset</button>
<div id="sliders"></div></div><div id="plots"></div></div>
<script id="payload" type="application/json">__PAYLOAD__</script>
<script>
(function () {
  const P = JSON.parse(document.getElementById("payload").textContent);
  const f32 = (b64) => { const s = atob(b64), u = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i); return new Float32Array(u.buffer); };
  const layers = P.layers.map((l) => ({w: f32(l.w), b: f32(l.b), nIn: l.n_in, nOut: l.n_out}));
  function decodeStandardized(z) {
    let h = Float64Array.from(z);
    layers.forEach((l, k) => {
      const o = new Float64Array(l.nOut);
      for (let j = 0; j < l.nOut; j++) {
        let s = l.b[j]; const r = j * l.nIn;
        for (let i = 0; i < l.nIn; i++) s += l.w[r + i] * h[i];
        o[j] = k < layers.length - 1 && s < 0 ? 0 : s;
      }
      h = o;
    });
    return Array.from(P.bernoulli ? h.map((v) => 1 / (1 + Math.exp(-v))) : h);
  }
  const decode = (z) => decodeStandardized(z).map((v) => v * P.x_std + P.x_mean);
  const L = P.axis.length, z = new Array(P.latent_dim).fill(0);
  const active = new Set(P.latents.filter((l) => l.active).map((l) => +l.latent.slice(1)));
  const sliders = {};
  for (const l of P.latents) {
    const i = +l.latent.slice(1), div = document.createElement("div");
    div.className = "latent" + (l.active ? "" : " inactive");
    const what = l.factor ? `${l.factor} |ρ| ${l.rho.toFixed(2)}` : "no factor";
    div.innerHTML = `<label for="z${i}">z${i} · ${what} · KL ${l.kl.toFixed(2)} · ` +
      `<span id="v${i}">0.00</span></label>` +
      `<input type="range" id="z${i}" min="-3" max="3" step="0.01" value="0" ${l.active ? "" : "disabled"}>`;
    document.getElementById("sliders").appendChild(div);
    const input = div.querySelector("input");
    input.addEventListener("input", () => { z[i] = +input.value; update(); });
    sliders[i] = input;
  }
  const picker = document.getElementById("picker");
  P.samples.forEach((s, k) => picker.add(new Option(s.label, k)));
  const ranges = P.channels.map((_, c) => {
    let lo = Infinity, hi = -Infinity;
    for (const s of P.samples) {
      for (let t = 0; t < L; t++) { const v = s.x[c * L + t]; lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    const pad = 0.15 * (hi - lo || 1); return [lo - pad, hi + pad];
  });
  const W = 760, H = 230, M = {l: 62, r: 12, t: 22, b: 36};
  const plots = document.getElementById("plots");
  const NS = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, parent) => { const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]); parent.appendChild(e); return e; };
  const panels = P.channels.map((name, c) => {
    const svg = el("svg", {width: W, height: H}, plots), [lo, hi] = ranges[c];
    const x0 = P.axis[0], x1 = P.axis[L - 1];
    const px = (t) => M.l + (W - M.l - M.r) * (P.axis[t] - x0) / (x1 - x0 || 1);
    const py = (v) => H - M.b - (H - M.t - M.b) * (v - lo) / (hi - lo);
    el("text", {x: M.l, y: 15, "font-size": 13, "font-weight": "bold"}, svg).textContent = name;
    const digits = Math.max(0, 2 - Math.floor(Math.log10(hi - lo)));  // 3 significant digits of the range
    for (const v of [lo, (lo + hi) / 2, hi]) {
      el("line", {x1: M.l, x2: W - M.r, y1: py(v), y2: py(v), stroke: "#e4e4e4"}, svg);
      el("text", {x: M.l - 5, y: py(v) + 4, "font-size": 11, "text-anchor": "end"}, svg)
        .textContent = v.toFixed(digits);
    }
    for (const t of [0, Math.floor(L / 2), L - 1]) {
      const anchor = t === 0 ? "start" : t === L - 1 ? "end" : "middle";
      el("text", {x: px(t), y: H - M.b + 15, "font-size": 11, "text-anchor": anchor}, svg)
        .textContent = P.axis[t].toPrecision(4);
    }
    el("text", {x: (W + M.l) / 2, y: H - 4, "font-size": 11, "text-anchor": "middle"}, svg).textContent = P.axis_label;
    el("text", {x: 12, y: H / 2, "font-size": 11, transform: `rotate(-90 12 ${H / 2})`, "text-anchor": "middle"}, svg)
      .textContent = (c === 0 ? P.value_label : name).split(" (")[0];  // the title says the rest
    const input = el("polyline", {fill: "none", stroke: "#999", "stroke-width": 1.5, id: `input-${c}`}, svg);
    const out = el("polyline", {fill: "none", stroke: "#1f5fbf", "stroke-width": 2, id: `decoded-${c}`}, svg);
    const points = (x) => Array.from({length: L}, (_, t) => `${px(t).toFixed(1)},${py(x[c * L + t]).toFixed(1)}`)
      .join(" ");
    return {input, out, points};
  });
  function setLatent(i, v) {
    z[i] = active.has(i) ? v : 0;
    if (sliders[i]) sliders[i].value = z[i];  // update() writes the values beside the sliders
  }
  function update() {
    const x = decode(z);
    panels.forEach((p) => p.out.setAttribute("points", p.points(x)));
    for (let i = 0; i < P.latent_dim; i++) {
      const s = document.getElementById(`v${i}`); if (s) s.textContent = z[i].toFixed(2);
    }
  }
  function choose(k) {
    const s = P.samples[k];
    panels.forEach((p) => p.input.setAttribute("points", p.points(s.x)));
    s.mu.forEach((v, i) => setLatent(i, v));
    update();
  }
  const normal = () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  picker.addEventListener("change", () => choose(+picker.value));
  document.getElementById("reset").addEventListener("click", () => choose(+picker.value));
  document.getElementById("prior").addEventListener("click", () => {
    for (let i = 0; i < P.latent_dim; i++) setLatent(i, Math.max(-3, Math.min(3, normal())));
    update();
  });
  choose(0);
  window.explorer = {decodeStandardized, decode, setLatent: (i, v) => { setLatent(i, v); update(); }, payload: P};
})();
</script></body></html>
"""
