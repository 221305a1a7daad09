'use strict';

// Framework Advisor web form. Plain ES2020, no libraries.
// Server text is only ever inserted with textContent (never innerHTML).

const KIND_LABELS = {
  cuda: 'NVIDIA CUDA', rocm: 'AMD ROCm', tpu: 'Google TPU',
  'apple-gpu': 'Apple GPU', 'intel-xpu': 'Intel XPU', cpu: 'CPU',
};
const OS_LABELS = { linux: 'Linux', darwin: 'macOS', windows: 'Windows' };

const $ = (selector, root = document) => root.querySelector(selector);

/** Create an element with optional attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  // append() turns strings into text nodes, so they are never parsed as HTML.
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function formatNumber(value) {
  const n = Number(value);
  return Number.isFinite(n) ? String(Math.round(n * 100) / 100) : String(value);
}

function formatPoints(points) {
  const n = Number(points) || 0;
  return (n > 0 ? '+' : '') + formatNumber(n);
}

function describeAccelerator(acc) {
  const details = [KIND_LABELS[acc.kind] || acc.kind];
  if (acc.memory_gb !== undefined && acc.memory_gb !== null) details.push(`${formatNumber(acc.memory_gb)} GB`);
  return `${acc.count || 1} × ${acc.name} (${details.join(', ')})`;
}

function summariseHardware(hw) {
  const parts = [`${OS_LABELS[hw.os] || hw.os} · ${hw.arch}`];
  if (hw.cpu) parts.push(`CPU: ${hw.cpu.model || 'unknown model'}, ${hw.cpu.cores} cores`);
  if (hw.memory_gb !== undefined && hw.memory_gb !== null) parts.push(`Memory: ${formatNumber(hw.memory_gb)} GB`);
  const accs = hw.accelerators || [];
  parts.push(accs.length ? `Accelerators: ${accs.map(describeAccelerator).join('; ')}` : 'CPU only');
  return parts;
}

function renderHardwareSummary(container, hw) {
  const list = el('ul', { class: 'hw-list' });
  for (const line of summariseHardware(hw)) list.append(el('li', { text: line }));
  container.replaceChildren(el('p', { class: 'hw-title', text: 'This machine' }), list);
  for (const warning of hw.warnings || []) container.append(el('p', { class: 'hw-warning', text: `Note: ${warning}` }));
}

async function loadMachineSummary() {
  const container = $('#machine-summary');
  try {
    const response = await fetch('/v1/hardware', { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    renderHardwareSummary(container, await response.json());
  } catch (err) {
    container.replaceChildren(el('p', { class: 'hw-warning', text: `Could not read this machine’s hardware (${err.message}).` }));
  }
}

function hardwareMode() {
  const checked = $('input[name="hardware-mode"]:checked');
  return checked ? checked.value : 'this-machine';
}

function syncHardwareMode() {
  const describing = hardwareMode() === 'describe';
  const fieldset = $('#describe-fieldset');
  fieldset.hidden = !describing;
  fieldset.disabled = !describing;
  $('#machine-summary').hidden = describing;
}

function syncAcceleratorFields() {
  const none = $('#acc-kind').value === 'none';
  for (const id of ['#acc-name', '#acc-count', '#acc-memory']) $(id).disabled = none;
}

function syncCpuCoresRequired() {
  // The API needs cores whenever a CPU is described.
  $('#hw-cpu-cores').required = $('#hw-cpu-model').value.trim() !== '';
}

function syncGoalValidity() {
  const boxes = document.querySelectorAll('input[name="goals"]');
  const anyChecked = Array.from(boxes).some((box) => box.checked);
  boxes[0].setCustomValidity(anyChecked ? '' : 'Choose at least one goal.');
}

function readNumber(selector) {
  const raw = $(selector).value.trim();
  return raw === '' ? undefined : Number(raw);
}

function readAccelerators() {
  const kind = $('#acc-kind').value;
  if (kind === 'none') return [];
  const acc = { kind, name: $('#acc-name').value.trim() || KIND_LABELS[kind] };
  const [count, memory] = [readNumber('#acc-count'), readNumber('#acc-memory')];
  if (count !== undefined) acc.count = count;
  if (memory !== undefined) acc.memory_gb = memory;
  return [acc];
}

function readHardware() {
  const hw = { os: $('#hw-os').value, arch: $('#hw-arch').value };
  const model = $('#hw-cpu-model').value.trim();
  const cores = readNumber('#hw-cpu-cores');
  if (cores !== undefined) hw.cpu = { model, cores };
  const memory = readNumber('#hw-memory');
  if (memory !== undefined) hw.memory_gb = memory;
  hw.accelerators = readAccelerators();
  return hw;
}

function buildRequestBody(form) {
  const body = {
    goals: Array.from(form.querySelectorAll('input[name="goals"]:checked'), (box) => box.value),
    experience: ($('input[name="experience"]:checked', form) || {}).value,
  };
  if (hardwareMode() === 'describe') body.hardware = readHardware();
  return body;
}

function clearError() {
  const box = $('#error');
  box.replaceChildren();
  box.hidden = true;
}

function showError(title, detail, errors = []) {
  $('#results').replaceChildren(); // stale results would no longer match the form
  const box = $('#error');
  box.replaceChildren(el('p', { class: 'error-title', text: title }));
  if (detail) box.append(el('p', { class: 'error-detail', text: detail }));
  if (errors.length) {
    const list = el('ul', { class: 'error-list' });
    for (const item of errors) {
      const li = el('li', {}, String(item.message ?? ''));
      if (item.pointer) li.append(' ', el('code', { text: `(${item.pointer})` }));
      list.append(li);
    }
    box.append(list);
  }
  box.hidden = false;
}

async function showProblem(response) {
  let problem = {};
  try { problem = await response.json(); } catch { /* not JSON */ }
  const title = problem.title || `${response.status} ${response.statusText || 'Error'}`.trim();
  showError(title, problem.detail, Array.isArray(problem.errors) ? problem.errors : []);
}

function fallbackCopy(text) {
  const area = el('textarea', { readonly: true, class: 'offscreen', 'aria-hidden': 'true' });
  const previousFocus = document.activeElement;
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  area.remove();
  if (previousFocus) previousFocus.focus(); // keep keyboard users on the Copy button
  return ok;
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); return true; } catch { /* fall back */ }
  }
  return fallbackCopy(text);
}

function copyButton(getText, what) {
  const button = el('button', { type: 'button', class: 'copy', text: 'Copy', 'aria-label': `Copy ${what}` });
  button.addEventListener('click', async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? 'Copied' : 'Copy failed';
    $('#copy-status').textContent = ok ? `Copied ${what}.` : `Could not copy ${what}.`;
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
  return button;
}

function renderConfidence(confidence) {
  if (!confidence) return null;
  return el('p', { class: `confidence confidence-${confidence.label}` },
    el('strong', { text: `Confidence: ${confidence.label}. ` }), confidence.message);
}

function renderRankingTable(ranking) {
  const head = el('tr', {}, ...['Rank', 'Framework', 'Score', 'Supported', 'Device']
    .map((h) => el('th', { scope: 'col', text: h })));
  const body = el('tbody');
  for (const fw of ranking) {
    body.append(el('tr', { class: fw.supported ? null : 'unsupported' },
      el('td', { text: String(fw.rank) }),
      el('th', { scope: 'row' }, el('a', { href: `#fw-${fw.framework}`, text: fw.name || fw.framework })),
      el('td', { class: 'num', text: formatNumber(fw.score) }),
      el('td', { text: fw.supported ? 'yes' : 'no' }),
      el('td', { text: fw.device ? (KIND_LABELS[fw.device] || fw.device) : '—' })));
  }
  return el('div', { class: 'table-wrap' },
    el('table', { id: 'ranking-table' }, el('caption', { text: 'Ranking' }), el('thead', {}, head), body));
}

function renderReason(reason) {
  const classes = ['reason'];
  if (reason.counted === false) classes.push('not-counted');
  if (reason.knockout) classes.push('knockout');
  const li = el('li', { class: classes.join(' ') },
    el('span', { class: 'points', text: formatPoints(reason.points) }), ' ',
    el('span', { class: 'message', text: reason.message }));
  if (reason.counted === false) li.append(' ', el('span', { class: 'note', text: '(counted once in its group)' }));
  if (reason.knockout) li.append(' ', el('span', { class: 'badge', text: 'knockout' }));
  li.append(' ', el('code', { class: 'rule', text: reason.rule }));
  return li;
}

function codeBlock(text, what) {
  return el('div', { class: 'code-block' }, el('pre', {}, el('code', { text })), copyButton(() => text, what));
}

function renderFramework(fw) {
  const name = fw.name || fw.framework;
  const summary = el('summary', {}, el('span', { text: `${fw.rank}. ${name}` }),
    el('span', { class: 'summary-score', text: ` score ${formatNumber(fw.score)}` }));
  if (!fw.supported) summary.append(' ', el('span', { class: 'badge', text: 'not supported' }));
  const details = el('details', { id: `fw-${fw.framework}`, class: fw.supported ? 'framework' : 'framework unsupported', open: fw.rank === 1 }, summary);

  const reasons = el('ul', { class: 'reasons' }, ...(fw.reasons || []).map(renderReason));
  if (!(fw.reasons || []).length) reasons.append(el('li', { text: 'No rule fired for this framework.' }));
  details.append(el('h3', { text: 'Reasons' }), reasons);

  details.append(el('h3', { text: 'Install' }),
    el('p', { class: 'installed', text: fw.installed_version ? `Installed here: ${fw.installed_version}` : 'Not installed here.' }),
    codeBlock(fw.install, `${name} install command`));

  if (fw.starter) {
    details.append(el('h3', {}, 'Starter: ', el('code', { text: fw.starter.filename })),
      codeBlock(fw.starter.code, `${name} starter code`),
      el('p', { class: 'run' }, 'Run: ', el('code', { text: fw.starter.run })));
  }
  return details;
}

function renderResults(data) {
  const results = $('#results');
  const ranking = [...(data.ranking || [])].sort((a, b) => a.rank - b.rank);
  results.replaceChildren(el('h2', { text: 'Recommendation' }));
  const confidence = renderConfidence(data.confidence);
  if (confidence) results.append(confidence);
  if (data.hardware) {
    const source = data.hardware_source ? ` (${data.hardware_source})` : '';
    results.append(el('p', { class: 'hw-used', text: `Hardware${source}: ${summariseHardware(data.hardware).join(' · ')}` }));
  }
  results.append(renderRankingTable(ranking), ...ranking.map(renderFramework));
  if (data.rulebase) {
    $('#rulebase').textContent = `${data.rulebase.version} (sha256 ${String(data.rulebase.sha256).slice(0, 12)}…)`;
  }
}

function setLoading(loading) {
  const button = $('#submit');
  button.disabled = loading;
  button.textContent = loading ? 'Loading…' : 'Recommend a framework';
  $('#results').setAttribute('aria-busy', String(loading));
}

async function sendRequest(body) {
  let response;
  try {
    response = await fetch('/v1/recommendations', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json' },
      body: JSON.stringify(body),
    });
  } catch (err) {
    showError('Could not reach the service', `The request failed (${err.message}). Check that the service is running and try again.`);
    return;
  }
  if (!response.ok) return showProblem(response);
  let data;
  try { data = await response.json(); } catch {
    showError('Unexpected response', 'The service answered with something that is not JSON.');
    return;
  }
  renderResults(data);
}

async function onSubmit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  syncGoalValidity();
  syncCpuCoresRequired();
  if (!form.reportValidity()) return;
  clearError();
  setLoading(true);
  try {
    await sendRequest(buildRequestBody(form));
  } finally {
    setLoading(false);
  }
}

function init() {
  const form = $('#advisor-form');
  form.addEventListener('submit', onSubmit);
  form.addEventListener('change', (event) => {
    const name = event.target.name;
    if (name === 'hardware-mode') syncHardwareMode();
    else if (name === 'goals') syncGoalValidity();
    else if (name === 'accelerator-kind') syncAcceleratorFields();
  });
  $('#hw-cpu-model').addEventListener('input', syncCpuCoresRequired);
  syncHardwareMode();
  syncAcceleratorFields();
  syncGoalValidity();
  loadMachineSummary();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
