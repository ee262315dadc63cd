// Antrian's search box: narrows the loaded jobs to those whose name, masked NIK (its visible last
// digits) or job id contains what the operator typed. Client-side: the page already holds today's jobs.

let query = '';

function norm(text) {
  return String(text || '').toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').trim();
}

// true when `job` matches the current search (or there is none)
export function matchesSearch(job) {
  if (!query) return true;
  if (norm(job.name).includes(query) || norm(job.id).includes(query)) return true;
  // digits only (spaces and the mask's stars ignored): the NIK's visible digits, e.g. "0001" for 3171********0001
  const digits = query.replace(/[\s*]/g, '');
  return /^\d+$/.test(digits) && String(job.nik_masked || '').replace(/\D+/g, ' ').split(' ').some((part) => part.includes(digits));
}

export function searchActive() {
  return query !== '';
}

export function setupSearch(redraw) {
  const input = document.getElementById('queue-search');
  if (!input) return;
  input.addEventListener('input', () => { query = norm(input.value); redraw(); });
}
