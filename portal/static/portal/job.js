// A job's page follows the job (an upload, an inspection, a report): it polls the job's API
// resource and moves the progress bar and the counts until the job has succeeded or
// failed. The page names the counts to follow in data-counts (each has an element with that id),
// and the fields of work done and in total in data-done and data-total (rows, or a report's steps).
// Each look is a read of the job the API records, so the pauses between looks grow from one second
// to ten: a long inspection followed for an hour is read under 400 times, not 3,600.

const job = document.getElementById("job");
const statuses = JSON.parse(document.getElementById("job-statuses").textContent);
const counts = job.dataset.counts ? job.dataset.counts.split(" ") : [];
const done = job.dataset.done || "rows_done";
const total = job.dataset.total || "rows_total";
let pause = 1000;

function again() {
  setTimeout(follow, pause);
  pause = Math.min(pause * 1.2, 10000);
}

function show(id, visible) {
  const element = document.getElementById(id);
  if (element) element.hidden = !visible;
}

async function follow() {
  const response = await fetch(job.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) {
    again();
    return;
  }
  const state = await response.json();
  for (const name of counts) document.getElementById(name).textContent = state[name] ?? "";
  const progress = document.getElementById("job-progress");
  const finished = state.status === "succeeded" || state.status === "failed";
  progress.max = state[total] || 1;
  progress.value = state.status === "succeeded" ? progress.max : state[done];
  const percent = Math.floor((100 * progress.value) / progress.max);
  document.getElementById("job-percent").textContent = `${percent}%`;
  document.getElementById("job-status").textContent = statuses[state.status] || state.status;
  show("job-errors", state.rejected_count);
  // A queued job with no worker seen lately says so (sharing/heartbeat.py), and stops saying it
  // once a worker runs again.
  show("job-no-worker", state.waiting_for_worker === true);
  show("job-results", state.status === "succeeded");
  if (finished && job.dataset.reload === "true") window.location.reload();
  else if (!finished) again();
}

if (job.dataset.finished !== "true") follow();
