// A job's page follows the job: it polls GET /api/v1/uploads/{id} every second and moves the
// progress bar and the counts until the job has succeeded or failed.

const job = document.getElementById("job");
const statuses = JSON.parse(document.getElementById("job-statuses").textContent);
const COUNTS = ["rows_done", "rows_total", "created_count", "updated_count", "superseded_count", "rejected_count"];

async function follow() {
  const response = await fetch(job.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const state = await response.json();
  for (const name of COUNTS) document.getElementById(name).textContent = state[name] ?? "";
  const progress = document.getElementById("job-progress");
  const finished = state.status === "succeeded" || state.status === "failed";
  progress.max = state.rows_total || 1;
  progress.value = finished && state.status === "succeeded" ? progress.max : state.rows_done;
  const percent = Math.floor((100 * progress.value) / progress.max);
  document.getElementById("job-percent").textContent = `${percent}%`;
  document.getElementById("job-status").textContent = statuses[state.status] || state.status;
  document.getElementById("job-errors").hidden = !state.rejected_count;
  if (!finished) setTimeout(follow, 1000);
}

if (job.dataset.finished !== "true") follow();
