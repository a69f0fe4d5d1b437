/* Loyalist dashboard: the little the pages need beyond plain HTML forms.
   - keep the budget slider and number input in step;
   - ask before a form that removes data (data-confirm) is submitted;
   - show a running state as soon as a form is submitted;
   - follow a running background job, then go to its result;
   - draw the Plotly charts from the figures the server put in data-figure. */
"use strict";

function syncBudget() {
  const slider = document.getElementById("budget-slider");
  const input = document.getElementById("budget");
  if (!slider || !input) return;
  slider.addEventListener("input", () => { input.value = slider.value; });
  input.addEventListener("input", () => {
    const v = Number(input.value);
    if (!Number.isFinite(v) || v < 0) return;
    if (v > Number(slider.max)) slider.max = String(Math.ceil(v * 2));
    slider.value = String(v);
  });
}

function confirmOnSubmit() {
  // registered before runningOnSubmit: a cancelled confirm stops the submit and its running
  // state; the server checks everything itself (a form without script just submits)
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) {
        e.preventDefault();
        e.stopImmediatePropagation();
      }
    });
  });
}

function runningOnSubmit() {
  document.querySelectorAll("form[data-running]").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[type=submit]").forEach((b) => {
        b.disabled = true;
        b.dataset.label = b.textContent;
        b.textContent = form.dataset.running;
      });
      form.classList.add("submitting");
      form.setAttribute("aria-busy", "true");
    });
  });
}

function followJob() {
  const box = document.getElementById("job");
  if (!box || box.dataset.status !== "running") return;
  const step = document.getElementById("job-step");
  const elapsed = document.getElementById("job-elapsed");
  const poll = async () => {
    let job;
    try {
      const r = await fetch(box.dataset.poll, { headers: { Accept: "application/json" },
                                                credentials: "same-origin", cache: "no-store" });
      if (r.status === 401 || r.status === 404) { window.location.assign(box.dataset.next); return; }
      job = await r.json();
    } catch (e) {
      window.setTimeout(poll, 2000);  // server restarting or busy: try again
      return;
    }
    if (step) step.textContent = job.step;
    if (elapsed) elapsed.textContent = String(Math.round(job.seconds));
    if (job.status === "running") {
      window.setTimeout(poll, 700);
    } else {
      box.dataset.status = job.status;
      window.location.assign(job.next || box.dataset.next);
    }
  };
  window.setTimeout(poll, 500);
}

function drawCharts() {
  if (typeof window.Plotly === "undefined") return;
  document.querySelectorAll(".chart[data-figure]").forEach((el) => {
    try {
      const fig = JSON.parse(el.dataset.figure);
      window.Plotly.newPlot(el, fig.data, fig.layout,
                            { displaylogo: false, responsive: true }).then(() => {
        el.dataset.drawn = "true";
      });
    } catch (e) {
      el.textContent = "chart failed to draw: " + e;
      el.classList.add("msg", "error");
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  syncBudget();
  confirmOnSubmit();
  runningOnSubmit();
  followJob();
  drawCharts();
});
