'use strict';

// Framework Advisor web form. Plain ES2020, no libraries.
// Server text is only ever inserted with textContent (never innerHTML).

// Ids and display names come from the service (GET /v1/vocabulary): one vocabulary for the API, the
// CLI and this page. Filled by loadVocabulary() before the form is built.
const KIND_LABELS = {};
const OS_LABELS = {};
const FRAMEWORK_NAMES = {};
const BENCHMARK_LABELS = {};
// One colour per framework, in the vocabulary's order.
const PALETTE = ['#c8402a', '#2457d6', '#6b4fbb', '#b86e00', '#1d7a46', '#5b6475'];
const FRAMEWORK_COLORS = {};
const SVG_NS = 'http://www.w3.org/2000/svg';

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

function fillLabels(target, terms) {
  for (const term of terms) target[term.id] = term.label;
}

/** Build the goal, experience, OS, architecture and accelerator choices from the vocabulary. */
function buildChoices(vocabulary) {
  $('#goal-choices').replaceChildren(...vocabulary.goals.map((goal) => el('label', {},
    el('input', { type: 'checkbox', name: 'goals', value: goal.id }), ` ${goal.label}`)));
  $('#experience-choices').replaceChildren(...vocabulary.experience.map((level, index) => el('label', {},
    el('input', { type: 'radio', name: 'experience', value: level.id, required: index === 0 }), ` ${level.label}`)));
  $('#hw-os').replaceChildren(...vocabulary.os.map((os) => el('option', { value: os.id, text: os.label })));
  $('#hw-arch').replaceChildren(...vocabulary.arch.map((arch) => el('option', { value: arch.id, text: arch.label })));
  const accelerators = vocabulary.devices.filter((device) => device.id !== 'cpu');
  $('#acc-kind').replaceChildren(el('option', { value: 'none', text: 'None (CPU only)' }),
    ...accelerators.map((kind) => el('option', { value: kind.id, text: kind.label })));
}

async function loadVocabulary() {
  const response = await fetch('/v1/vocabulary', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const vocabulary = await response.json();
  fillLabels(KIND_LABELS, vocabulary.devices);
  fillLabels(OS_LABELS, vocabulary.os);
  fillLabels(FRAMEWORK_NAMES, vocabulary.frameworks);
  fillLabels(BENCHMARK_LABELS, vocabulary.benchmarks);
  vocabulary.frameworks.forEach((framework, index) => {
    FRAMEWORK_COLORS[framework.id] = PALETTE[index % PALETTE.length];
  });
  buildChoices(vocabulary);
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
  // The CLI and the Markdown say the same (rules/markup.py NOT_COUNTED).
  if (reason.counted === false) li.append(' ', el('span', { class: 'note', text: '(not counted: a stronger reason of the same kind counts)' }));
  if (reason.knockout) li.append(' ', el('span', { class: 'badge', text: 'knockout' }));
  li.append(' ', el('code', { class: 'rule', text: reason.rule }));
  const sources = renderSources(reason.refs);
  if (sources) li.append(sources);
  return li;
}

/** A reason's refs as a reader can follow them: web pages first, as links; then the seed articles as plain
 * text (a reader has no seed files to open), one line per article with the phrases quoted from it
 * (refs read `seed:<file> "phrase"`); this machine's probe in words. */
function renderSources(refs) {
  if (!refs || !refs.length) return null;
  const links = [], seeds = new Map(), others = [];
  for (const ref of refs.map(String)) {
    const seed = /^seed:\s*([^\s"“]+)\s*(.*)$/.exec(ref);
    if (/^https?:\/\//i.test(ref)) {
      let label = ref;
      try {
        const url = new URL(ref);
        label = (url.host + url.pathname).replace(/\/$/, '') + url.hash;
      } catch { /* not a URL after all: shown as written */ }
      links.push(el('li', {}, el('a', { href: ref, rel: 'noopener noreferrer', text: label })));
    } else if (seed) {
      if (!seeds.has(seed[1])) seeds.set(seed[1], []);
      const quote = seed[2].trim().replace(/^["“]|["”]$/g, '');
      if (quote) seeds.get(seed[1]).push(`“${quote}”`);
    } else {
      others.push(el('li', { text: ref === 'probe:this-machine' ? 'measured on this machine (its probe)' : ref }));
    }
  }
  const seedItems = [...seeds].map(([file, quotes]) => el('li', { class: 'seed-ref' },
    `seed article ${file}` + (quotes.length ? `: ${quotes.join(' · ')}` : '')));
  return el('div', { class: 'sources' }, el('span', { class: 'sources-label', text: 'Sources:' }),
    el('ul', { class: 'source-list' }, ...links, ...seedItems, ...others));
}

function codeBlock(text, what, kind = '') {
  return el('div', { class: kind ? `code-block ${kind}` : 'code-block' }, el('pre', {}, el('code', { text })),
    copyButton(() => text, what));
}

// A starter longer than this is collapsed: its summary says how long it is; Copy and Download stay at hand.
const LONG_STARTER_LINES = 25;

/** Save a starter as the file it names: a Blob download, nothing leaves the page. */
function downloadButton(starter, what) {
  const button = el('button', { type: 'button', class: 'download', 'aria-label': `Download ${what} (${starter.filename})` },
    `Download ${starter.filename}`);
  button.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([starter.code], { type: 'text/x-python' }));
    const link = el('a', { href: url, download: starter.filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    $('#copy-status').textContent = `Downloading ${starter.filename}.`;
  });
  return button;
}

function renderStarter(fw, name) {
  const starter = fw.starter;
  const lines = starter.code.replace(/\n$/, '').split('\n').length;
  const block = codeBlock(starter.code, `${name} starter code`);
  const nodes = [el('h3', { id: `starter-${fw.framework}` }, 'Starter: ', el('code', { text: starter.filename })),
    el('p', { class: 'starter-actions' }, downloadButton(starter, `${name} starter`), ' ',
      el('span', { class: 'run' }, 'Run: ', el('code', { text: starter.run })))];
  nodes.push(lines > LONG_STARTER_LINES
    ? el('details', { class: 'starter-code' }, el('summary', { text: `Show the program (${lines} lines)` }), block)
    : block);
  return nodes;
}

function renderFramework(fw, hardwareIsHere) {
  const name = fw.name || fw.framework;
  const summary = el('summary', {}, el('span', { text: `${fw.rank}. ${name}` }),
    el('span', { class: 'summary-score', text: ` score ${formatNumber(fw.score)}` }));
  if (!fw.supported) summary.append(' ', el('span', { class: 'badge', text: 'not supported' }));
  const details = el('details', { id: `fw-${fw.framework}`, class: fw.supported ? 'framework' : 'framework unsupported', open: fw.rank === 1 }, summary);

  const reasons = el('ul', { class: 'reasons' }, ...(fw.reasons || []).filter((r) => r.counted !== false).map(renderReason));
  // Reasons that did not count are folded into one short line, as in the CLI and the Markdown (rules/markup.py folded_line).
  const folded = (fw.reasons || []).filter((r) => r.counted === false);
  if (folded.length) {
    reasons.append(el('li', { class: 'reason folded' }, 'also (not counted: a stronger reason of the same kind counts): ',
      ...folded.flatMap((r, i) => [i ? ', ' : '', el('code', { class: 'rule', text: r.rule }), ` ${formatPoints(r.points)}`])));
  }
  if (!(fw.reasons || []).length) reasons.append(el('li', { text: 'No rule fired for this framework.' }));
  details.append(el('h3', { text: 'Reasons' }), reasons);

  details.append(el('h3', { text: 'Install' }));
  // Installed or not is a fact of this machine only: described hardware (or a stored probe's) is another one.
  if (hardwareIsHere) {
    details.append(el('p', { class: 'installed', text: fw.installed_version ? `Installed here: ${fw.installed_version}` : 'Not installed here.' }));
  }
  details.append(codeBlock(fw.install, `${name} install command`, 'install'));

  if (fw.starter) details.append(...renderStarter(fw, name));
  return details;
}

// ---- Measured benchmark figures: an inline SVG bar chart, one group of bars per benchmark ----

function frameworkName(id) { return FRAMEWORK_NAMES[id] || id; }
function deviceName(device) { return KIND_LABELS[device] || device; }

function formatFigure(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  const abs = Math.abs(n);
  if (abs >= 100) return String(Math.round(n));
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 0.01 || abs === 0) return n.toFixed(2);
  return n.toPrecision(2);
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Benchmarks of a ProbeReport grouped by benchmark name and unit, each with one entry per framework and device. */
function benchmarkGroups(report) {
  const groups = new Map();
  for (const fw of report.frameworks || []) {
    for (const bench of fw.benchmarks || []) {
      const value = Number(bench.value);
      if (!Number.isFinite(value)) continue;
      const key = `${bench.name}\u0000${bench.unit}`;
      if (!groups.has(key)) {
        groups.set(key, {
          name: bench.name, unit: bench.unit, label: BENCHMARK_LABELS[bench.name] || bench.name,
          lowerIsBetter: bench.lower_is_better ?? bench.name === 'dispatch_latency', entries: [],
        });
      }
      // A CPU figure above the computed CPU peak shows that peak too low: then no CPU percent holds.
      const percentHolds = bench.device !== 'cpu' || !report.understated_cpu_peak;
      groups.get(key).entries.push({
        framework: fw.framework, device: bench.device, value, size: sizeText(bench),
        percentOfPeak: percentHolds ? bench.percent_of_peak : undefined, checked: bench.checked,
      });
    }
  }
  for (const group of groups.values()) {
    // Figures of one device at different sizes are not comparable: then every bar says its size.
    const sizes = new Set(group.entries.map((entry) => `${entry.device} ${entry.size}`));
    const devices = new Set(group.entries.map((entry) => entry.device));
    group.sizesDiffer = sizes.size > devices.size;
  }
  return [...groups.values()];
}

/** A record's problem size as its parameters say it: "n=512", "batch=32, channels=64". */
function sizeText(bench) {
  const params = bench.params || {};
  const named = Object.entries(params).filter(([, value]) => typeof value === 'number');
  if (named.length) return named.map(([key, value]) => `${key}=${value}`).join(', ');
  return bench.size ? `size ${bench.size}` : '';
}

/** The one way a ratio is written (probes/comparisons.py ratio_text): "38x", "2.8x", "1.15x". */
function ratioText(ratio) {
  if (ratio >= 10) return `${ratio.toFixed(0)}x`;
  if (ratio >= 2) return `${ratio.toFixed(1)}x`;
  return `${ratio.toFixed(2)}x`;
}

/** An Interval (probes/comparisons.py) as text: "2.0x (1.50x-2.6x over 5 rounds)". */
function intervalText(interval) {
  if (interval.low === interval.high) return ratioText(interval.median);
  return `${ratioText(interval.median)} (${ratioText(interval.low)}-${ratioText(interval.high)} over ${interval.rounds} rounds)`;
}

function barLabel(group, entry) {
  const better = group.lowerIsBetter ? 'lower is better' : 'higher is better';
  return `${frameworkName(entry.framework)} on ${deviceName(entry.device)}, ${group.label}` +
    (entry.size ? ` at ${entry.size}` : '') + `: ${formatFigure(entry.value)} ${group.unit} (${better})`;
}

function renderBarChart(groups, titleText) {
  const width = 640, labelWidth = 170, valueWidth = 90, barHeight = 18, rowGap = 6, groupGap = 18, headerHeight = 22;
  const barArea = width - labelWidth - valueWidth;
  const titleId = `chart-title-${Math.random().toString(36).slice(2, 8)}`;
  const chart = svg('svg', { class: 'bar-chart', role: 'group', 'aria-labelledby': titleId, width: '100%' });
  chart.append(svg('title', { id: titleId }, titleText));
  let y = 0;
  for (const group of groups) {
    const max = Math.max(...group.entries.map((entry) => Math.abs(entry.value))) || 1;
    const better = group.lowerIsBetter ? 'lower is better' : 'higher is better';
    const heading = `${group.label}, ${group.unit} (${better})` +
      (group.sizesDiffer ? ': measured at different sizes, not comparable bar to bar' : '');
    const g = svg('g', { class: 'bench-group', role: 'list', 'aria-label': heading, 'data-benchmark': group.name });
    g.append(svg('text', { class: 'group-label', x: 0, y: y + 15, 'aria-hidden': 'true' }, heading));
    y += headerHeight;
    for (const entry of group.entries) {
      const label = barLabel(group, entry);
      const barWidth = Math.max(2, (Math.abs(entry.value) / max) * barArea);
      const row = svg('g', { class: 'bar-row', role: 'listitem' });
      row.append(
        svg('text', { class: 'bar-label', x: labelWidth - 8, y: y + 13, 'text-anchor': 'end', 'aria-hidden': 'true' },
          `${frameworkName(entry.framework)} (${deviceName(entry.device)}` +
          (group.sizesDiffer && entry.size ? `, ${entry.size})` : ')')),
        svg('rect', {
          class: 'bar', x: labelWidth, y, width: barWidth.toFixed(1), height: barHeight, rx: 3,
          fill: FRAMEWORK_COLORS[entry.framework] || '#5b6475', role: 'img', 'aria-label': label,
          'data-framework': entry.framework, 'data-value': entry.value,
        }),
        svg('text', { class: 'bar-value', x: labelWidth + barWidth + 6, y: y + 13, 'aria-hidden': 'true' },
          `${formatFigure(entry.value)} ${group.unit}`));
      row.querySelector('rect').append(svg('title', {}, label));
      g.append(row);
      y += barHeight + rowGap;
    }
    chart.append(g);
    y += groupGap;
  }
  chart.setAttribute('viewBox', `0 0 ${width} ${Math.max(y - groupGap, 1)}`);
  return chart;
}

function renderFiguresTable(groups) {
  const head = el('tr', {}, ...['Benchmark', 'Framework', 'Device', 'Size', 'Value', '% of peak']
    .map((h) => el('th', { scope: 'col', text: h })));
  const body = el('tbody');
  for (const group of groups) {
    for (const entry of group.entries) {
      body.append(el('tr', {},
        el('td', { text: group.label }),
        el('th', { scope: 'row', text: frameworkName(entry.framework) }),
        el('td', { text: deviceName(entry.device) }),
        el('td', { text: entry.size || '—' }),
        el('td', { class: 'num', text: `${formatFigure(entry.value)} ${group.unit}` }),
        el('td', { class: 'num', text: entry.percentOfPeak === undefined ? '—' : `${formatFigure(entry.percentOfPeak)}%` })));
    }
  }
  return el('details', { class: 'figures' }, el('summary', { text: 'The same figures as a table' }),
    el('div', { class: 'table-wrap' }, el('table', { id: 'figures-table' }, el('thead', {}, head), body)));
}

function describeProbe(probe) {
  const report = probe.report || {};
  const when = probe.finished_at || report.created_at || probe.created_at;
  const parts = [`Probe ${probe.id} of ${probe.host || report.host}`];
  if (when) parts.push(`finished ${String(when).replace('T', ' ').replace(/\.\d+/, '').replace('+00:00', ' UTC')}`);
  if (report.quick) parts.push('quick');
  if (probe.params && probe.params.uploaded) parts.push('uploaded');
  return parts.join(', ');
}

/** Show a finished probe (a ProbeJob with its report) in the chart area. */
function renderProbeChart(probe) {
  const container = $('#chart');
  const report = probe.report || {};
  const groups = benchmarkGroups(report);
  container.dataset.probeId = probe.id;
  const title = `Benchmark figures per framework: ${describeProbe(probe)}`;
  const nodes = [el('p', { class: 'chart-source', text: describeProbe(probe) })];
  if (groups.length) {
    nodes.push(el('figure', { class: 'chart-figure' }, renderBarChart(groups, title),
      el('figcaption', { class: 'hint', text: 'Each group compares the frameworks on one benchmark; bar length is relative to the group’s largest figure.' })),
    renderFiguresTable(groups));
  } else {
    nodes.push(el('p', { class: 'hint', text: 'This probe recorded no benchmark figures.' }));
  }
  const warnings = measurementWarnings(report);
  if (warnings.length) nodes.splice(1, 0, el('ul', { class: 'probe-warnings', role: 'note' },
    ...warnings.map((note) => el('li', { text: note }))));
  const comparisons = comparisonNotes(report);
  if (comparisons.length) nodes.push(el('ul', { class: 'probe-comparisons', 'aria-label': 'Compared in rounds' },
    ...comparisons.map((note) => el('li', { text: note }))));
  const notes = [];
  if (report.threads_note) notes.push(`Threads: ${report.threads_note}.`);
  for (const failure of report.failures || []) {
    notes.push(`${frameworkName(failure.framework)}: not measured (${failure.kind}: ${failure.message})`);
  }
  for (const skipped of report.skipped || []) notes.push(`${frameworkName(skipped.framework)}: skipped (${skipped.reason})`);
  if (notes.length) nodes.push(el('ul', { class: 'probe-notes' }, ...notes.map((note) => el('li', { text: note }))));
  container.replaceChildren(...nodes);
}

/** An age as people say it (probes/history.py age_text): "40 s", "12 min", "3.5 h", "2.0 days". */
function ageText(seconds) {
  if (seconds < 90) return `${Math.max(0, seconds).toFixed(0)} s`;
  if (seconds < 90 * 60) return `${(seconds / 60).toFixed(0)} min`;
  if (seconds < 36 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/** After "probe ID": the pooled probes, the age, reuse and the probes left out (as the CLI says them). */
function describeMeasurements(used) {
  if (!used) return '';
  const age = (timestamp) => (Date.now() - Date.parse(timestamp)) / 1000;
  let text = '';
  if (used.probe_ids.length > 1) text += ` pooled with ${used.probe_ids.slice(1).join(', ')}`;
  const newest = age(used.measured_at);
  if (Number.isFinite(newest)) {
    text += `, measured ${ageText(newest)} ago`;
    const oldest = age(used.oldest_measured_at);
    if (used.probe_ids.length > 1 && Number.isFinite(oldest)) text += ` (the oldest ${ageText(oldest)} ago)`;
  }
  if (used.reused_from) text += `; its figures are those of probe ${used.reused_from} (nothing had changed)`;
  for (const left of used.left_out || []) text += `; left out: probe ${left.probe_id} (${left.reason})`;
  return text;
}

/** What a reader must know before trusting the figures (the CLI says the same: render.measurement_notes). */
function measurementWarnings(report) {
  const warnings = [];
  const conditions = report.conditions;
  if (conditions && conditions.unreliable) {
    warnings.push(`The machine was busy while this probe measured (${conditions.why}): it measured extra rounds, ` +
      'and its figures may be unreliable; probe again when the machine is quieter.');
  } else if (conditions && conditions.busy) {
    const waited = conditions.waiting_percent !== undefined && conditions.waiting_percent !== null
      ? `waited for a CPU ${conditions.waiting_percent}% of their turns` : 'were not measurably delayed';
    warnings.push(`The machine was busy (${conditions.why}): the workers ran on the idlest CPUs and ${waited}, ` +
      'so the figures held.');
  }
  return warnings;
}

/** Per framework, its speed against the fastest with the range over the rounds, and the sizes compared. */
function comparisonNotes(report) {
  const notes = [];
  for (const [framework, facts] of Object.entries(report.derived || {})) {
    if (!facts.slowdown_range || facts.fastest === framework) continue;
    notes.push(`${frameworkName(framework)}: ${intervalText(facts.slowdown_range)} slower than ` +
      `${frameworkName(facts.fastest)} (${facts.speed_basis})`);
  }
  for (const comparison of report.comparisons || []) {
    notes.push(`${BENCHMARK_LABELS[comparison.benchmark] || comparison.benchmark} on ` +
      `${deviceName(comparison.device)} was compared at size ${comparison.size}, ` +
      `${comparison.frameworks.length} frameworks in turn`);
    for (const left of comparison.not_compared || []) {
      notes.push(`${frameworkName(left.framework)} was not compared on ` +
        `${BENCHMARK_LABELS[comparison.benchmark] || comparison.benchmark}: ${left.reason}`);
    }
  }
  return notes;
}

function renderNoProbe(message) {
  const container = $('#chart');
  delete container.dataset.probeId;
  container.replaceChildren(el('p', { class: 'hint', text: message }));
}

async function fetchJson(url) {
  const response = await fetch(url, { headers: { Accept: 'application/json, application/problem+json' } });
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    const detail = body && (body.detail || body.title);
    throw new Error(detail || `HTTP ${response.status}`);
  }
  return { response, body };
}

/** The chart follows the probe a recommendation used (the latest finished probe of this machine). */
async function showProbeOfRecommendation(data) {
  if (data.probe_id) {
    if ($('#chart').dataset.probeId === data.probe_id) return;
    try {
      const { body } = await fetchJson(`/v1/probes/${encodeURIComponent(data.probe_id)}`);
      if (body.report) renderProbeChart(body);
    } catch (err) {
      renderNoProbe(`Could not load probe ${data.probe_id} (${err.message}).`);
    }
  } else if (data.hardware_source === 'this-machine') {
    renderNoProbe('This machine has no finished probe yet, so the ranking uses no measurements. Press “Probe this machine” to measure it.');
  }
}

// ---- "Probe this machine": POST /v1/probes, then poll its Location ----

const PROBE_PHASES = {
  queued: () => 'Queued: waiting to start (one probe at a time runs on a machine).',
  inventory: () => 'Reading the hardware inventory…',
  importing: (p) => `Starting ${p.total || 'the'} framework${p.total === 1 ? '' : 's'} (their imports run together)…`,
  measuring: (p) => `Measuring ${BENCHMARK_LABELS[p.benchmark] || p.benchmark || ''}` +
    (p.total ? ` (benchmark ${(p.index || 0) + 1} of ${p.total}, every framework in turn)` : '') + '…',
  done: () => 'Saving the report…',
};

let probeRunning = false;

function setProbeRunning(running) {
  probeRunning = running;
  const button = $('#probe-button');
  // aria-disabled rather than disabled: a disabled button loses keyboard focus.
  button.setAttribute('aria-disabled', String(running));
  button.textContent = running ? 'Probing…' : 'Probe this machine';
  $('#measurements').setAttribute('aria-busy', String(running));
}

function showProbeProgress(job) {
  const progress = job.progress || {};
  const percent = job.status === 'finished' ? 100 : Math.max(0, Math.min(100, Number(progress.percent) || 0));
  $('#probe-progress-row').hidden = false;
  $('#probe-progress').value = percent;
  $('#probe-progress').textContent = `${Math.round(percent)}%`;
  $('#probe-percent').textContent = `${Math.round(percent)}%`;
  const phase = job.status === 'queued' ? 'queued' : progress.phase;
  const message = (PROBE_PHASES[phase] || (() => 'Starting…'))(progress);
  // Only phase changes go to the live region; the step detail would be read out too often.
  if ($('#probe-status').textContent !== message) $('#probe-status').textContent = message;
  const step = progress.step && ({ import: 'importing the framework', done: 'framework finished' }[progress.step]
    || BENCHMARK_LABELS[progress.step] || progress.step);
  const who = progress.framework ? `${frameworkName(progress.framework)}: ` : '';
  $('#probe-detail').textContent = step ? `Step: ${who}${step}` : '';
}

function showProbeError(title, detail) {
  const box = $('#probe-error');
  box.replaceChildren(el('p', { class: 'error-title', text: title }));
  if (detail) box.append(el('p', { class: 'error-detail', text: detail }));
  box.hidden = false;
  $('#probe-status').textContent = '';
}

function retryDelayMs(response) {
  const seconds = Number(response.headers.get('Retry-After'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 5) * 1000 : 500;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function pollProbe(url, job, delayMs) {
  let failures = 0;
  while (job.status === 'queued' || job.status === 'running') {
    showProbeProgress(job);
    await sleep(delayMs);
    try {
      const { response, body } = await fetchJson(url);
      job = body;
      delayMs = retryDelayMs(response);
      failures = 0;
    } catch (err) {
      failures += 1;
      if (failures >= 5) throw err;
    }
  }
  return job;
}

async function onProbeClick() {
  if (probeRunning) return;
  $('#probe-error').hidden = true;
  setProbeRunning(true);
  $('#probe-status').textContent = 'Starting a quick probe…';
  try {
    let response;
    try {
      response = await fetch('/v1/probes', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json' },
        body: JSON.stringify({ quick: true }),
      });
    } catch (err) {
      showProbeError('Could not reach the service', `The request failed (${err.message}).`);
      return;
    }
    let body = {};
    try { body = await response.json(); } catch { /* not JSON */ }
    if (!response.ok) {
      let detail = body.detail || '';
      if (response.status === 401) detail += ' Probes on this service need its token; run “framework-advisor probe” on the machine instead.';
      showProbeError(body.title || `HTTP ${response.status}`, detail.trim());
      return;
    }
    const url = response.headers.get('Location') || `/v1/probes/${encodeURIComponent(body.id)}`;
    let job;
    try {
      job = await pollProbe(url, body, retryDelayMs(response));
    } catch (err) {
      showProbeError('Lost track of the probe', `Polling ${url} failed (${err.message}).`);
      return;
    }
    if (job.status !== 'finished' || !job.report) {
      showProbeError(`The probe ${job.status}`, job.error || 'It finished without a report.');
      return;
    }
    showProbeProgress(job);
    renderProbeChart(job);
    loadProbeChoices();
    const figures = benchmarkGroups(job.report).reduce((n, group) => n + group.entries.length, 0);
    $('#probe-status').textContent = `Probe finished: ${figures} benchmark figures; the chart is updated.`;
    // A recommendation shown for this machine is now out of date: ask again, with the new measurements.
    if (lastRequest && !lastRequest.hardware && !loading) {
      setLoading(true);
      try { await sendRequest(lastRequest); } finally { setLoading(false); }
    }
  } finally {
    setProbeRunning(false);
  }
}

// ---- "Compare probes": two stored probes side by side (GET /v1/probes/{a}/diff/{b}) ----

const CHANGE_WORDS = { better: 'better', worse: 'worse', 'within-noise': 'within noise', 'not-judged': 'not judged' };

function whenText(timestamp) {
  if (!timestamp) return '—';
  return String(timestamp).replace('T', ' ').slice(0, 16) + (/(\+00:00|Z)$/.test(timestamp) ? ' UTC' : '');
}

function probeChoiceText(probe) {
  const frameworks = (probe.frameworks || []).map(frameworkName).join(', ') || 'no framework';
  return `${probe.id} · ${whenText(probe.created_at)} · ${probe.host} · ` +
    `${probe.params && probe.params.quick ? 'quick' : 'full'} · ${frameworks}`;
}

/** Fill the two selects with the stored probes that have a report (newest first): A the second newest, B the newest. */
async function loadProbeChoices() {
  const status = $('#compare-status');
  let probes;
  try {
    const { body } = await fetchJson('/v1/probes?limit=100');
    probes = (body.probes || []).filter((probe) => probe.status === 'finished');
  } catch (err) {
    status.textContent = `Could not list the stored probes (${err.message}).`;
    return;
  }
  const kept = { a: $('#compare-a').value, b: $('#compare-b').value };
  for (const [side, fallback] of [['a', 1], ['b', 0]]) {
    const select = $(`#compare-${side}`);
    select.replaceChildren(...probes.map((probe) => el('option', { value: probe.id, text: probeChoiceText(probe) })));
    const ids = probes.map((probe) => probe.id);
    select.value = ids.includes(kept[side]) ? kept[side] : (ids[Math.min(fallback, ids.length - 1)] || '');
  }
  const enough = probes.length >= 2;
  $('#compare-button').setAttribute('aria-disabled', String(!enough));
  status.textContent = enough ? `${probes.length} stored probes to compare.`
    : 'Two finished probes are needed to compare: probe this machine (or run “framework-advisor probe”) first.';
}

function ratioRangeText(figure) {
  if (figure.ratio_low === undefined || figure.ratio_high === undefined) return ratioText(figure.ratio);
  return `${ratioText(figure.ratio)} (${ratioText(figure.ratio_low).slice(0, -1)}-${ratioText(figure.ratio_high)})`;
}

function figureSizeText(figure) {
  return [figure.precision && figure.precision !== 'fp32' ? figure.precision : '', figure.size_text]
    .filter(Boolean).join(' ') || '—';
}

function diffList(title, lines, attrs = {}) {
  if (!lines.length) return [];
  return [el('h3', { text: title }), el('ul', { class: 'diff-list', ...attrs }, ...lines.map((line) => el('li', { text: line })))];
}

function deviceLines(diff) {
  const lines = [];
  for (const acc of diff.accelerators || []) {
    if (acc.a_count === null) lines.push(`New in B: ${acc.b_count} × ${acc.name} (${deviceName(acc.kind)})`);
    else if (acc.b_count === null) lines.push(`Gone in B: ${acc.a_count} × ${acc.name} (${deviceName(acc.kind)})`);
    else {
      const driver = acc.a_driver !== acc.b_driver ? `, driver ${acc.a_driver || '?'} → ${acc.b_driver || '?'}` : '';
      lines.push(`${acc.name} (${deviceName(acc.kind)}): ${acc.a_count} → ${acc.b_count}${driver}`);
    }
  }
  const usable = (value) => (value === null ? 'not listed' : value ? 'usable' : 'not usable');
  for (const seen of diff.devices_seen || []) {
    const index = seen.index !== undefined ? `:${seen.index}` : '';
    lines.push(`${frameworkName(seen.framework)} sees ${seen.device}${index} ${seen.name}: ` +
      `${usable(seen.a_usable)} → ${usable(seen.b_usable)}`);
  }
  for (const unused of diff.unused_accelerators || []) {
    const side = (reason) => (reason ? `unused (${reason})` : 'not unused');
    lines.push(`${frameworkName(unused.framework)} and the ${deviceName(unused.kind)} device: ` +
      `${side(unused.a_reason)} → ${side(unused.b_reason)}`);
  }
  return lines;
}

function renderDiffTable(figures) {
  const head = el('tr', {}, ...['Framework', 'Benchmark', 'Device', 'Size', 'A', 'B', 'B/A (range)', 'Change']
    .map((h) => el('th', { scope: 'col', text: h })));
  const body = el('tbody');
  for (const figure of figures) {
    const change = CHANGE_WORDS[figure.verdict] + (figure.noisy ? ' (noisy)' : '');
    body.append(el('tr', { class: `verdict-${figure.verdict}`, 'data-verdict': figure.verdict },
      el('th', { scope: 'row', text: frameworkName(figure.framework) }),
      el('td', { text: BENCHMARK_LABELS[figure.benchmark] || figure.benchmark }),
      el('td', { text: deviceName(figure.device) }),
      el('td', { text: figureSizeText(figure) }),
      el('td', { class: 'num', text: `${formatFigure(figure.a_value)} ${figure.unit}` }),
      el('td', { class: 'num', text: `${formatFigure(figure.b_value)} ${figure.unit}` }),
      el('td', { class: 'num' }, ...ratioRangeText(figure).split(' ').flatMap((part, index) =>
        [index ? ' ' : null, el('span', { class: 'nowrap', text: part })])),
      el('td', { class: 'change', text: change })));
  }
  return el('div', { class: 'table-wrap' }, el('table', { id: 'diff-table' },
    el('caption', { text: 'Figures both probes measured at the same size: B/A and its range from both figures’ samples' }),
    el('thead', {}, head), body));
}

function refText(side, ref) {
  const reused = ref.reused_from ? `, figures of probe ${ref.reused_from}` : '';
  return `${side} = probe ${ref.id} of ${ref.host}, measured ${whenText(ref.measured_at)}, ` +
    `${ref.quick ? 'quick' : 'full'}${reused}`;
}

function renderDiff(diff) {
  const container = $('#compare-result');
  container.dataset.a = diff.a.id;
  container.dataset.b = diff.b.id;
  const nodes = [el('h3', { text: `What changed from probe ${diff.a.id} to ${diff.b.id}` }),
    el('ul', { class: 'diff-refs' }, el('li', { text: refText('A', diff.a) }), el('li', { text: refText('B', diff.b) }))];
  if ((diff.notes || []).length) {
    nodes.push(el('ul', { class: 'probe-warnings', role: 'note' }, ...diff.notes.map((note) => el('li', { text: `${note}.` }))));
  }
  const name = (id) => (id === 'python' ? 'Python' : frameworkName(id));
  const versions = (diff.versions || []).filter((v) => v.changed)
    .map((v) => `${name(v.name)}: ${v.a ?? 'absent'} → ${v.b ?? 'absent'}`);
  const same = (diff.versions || []).filter((v) => !v.changed);
  if (same.length) versions.push(`Unchanged: ${same.map((v) => `${name(v.name)} ${v.a}`).join(', ')}`);
  nodes.push(...diffList('Versions', versions, { id: 'diff-versions' }));
  const outcomes = (diff.frameworks || []).filter((o) => o.changed).map((o) =>
    `${frameworkName(o.framework)}: ${o.a}${o.a_detail ? ` (${o.a_detail})` : ''} → ${o.b}${o.b_detail ? ` (${o.b_detail})` : ''}`);
  nodes.push(...diffList('Frameworks', outcomes));
  const devices = deviceLines(diff);
  nodes.push(...diffList('Devices', devices.length ? devices
    : ['No change in the accelerators, the devices each framework saw, or those it left unused.'], { id: 'diff-devices' }));
  nodes.push((diff.figures || []).length ? renderDiffTable(diff.figures)
    : el('p', { class: 'hint', text: 'Figures: none was measured by both probes at the same size.' }));
  const apart = (diff.not_compared || []).map((left) => `Not compared: ${frameworkName(left.framework)} ` +
    `${BENCHMARK_LABELS[left.benchmark] || left.benchmark} on ${deviceName(left.device)}, A ${left.a.join(', ')}, ` +
    `B ${left.b.join(', ')} (${left.reason})`);
  for (const [side, figures] of [['A', diff.only_in_a || []], ['B', diff.only_in_b || []]]) {
    for (const figure of figures) {
      const size = figureSizeText(figure);
      apart.push(`Only in ${side}: ${frameworkName(figure.framework)} ${BENCHMARK_LABELS[figure.benchmark] || figure.benchmark} ` +
        `on ${deviceName(figure.device)}${size === '—' ? '' : ` ${size}`}: ${formatFigure(figure.value)} ${figure.unit}`);
    }
  }
  if (apart.length) nodes.push(el('ul', { class: 'diff-list', id: 'diff-apart' }, ...apart.map((line) => el('li', { text: line }))));
  nodes.push(el('p', { class: 'hint', text: `Noise: ${diff.noise_rule}.` }));
  container.replaceChildren(...nodes);
}

async function onCompare() {
  const [a, b] = [$('#compare-a').value, $('#compare-b').value];
  const box = $('#compare-error');
  box.hidden = true;
  if (!a || !b || $('#compare-button').getAttribute('aria-disabled') === 'true') {
    box.replaceChildren(el('p', { class: 'error-title', text: 'Two stored probes are needed to compare.' }));
    box.hidden = false;
    return;
  }
  $('#compare-status').textContent = `Comparing probe ${a} with ${b}…`;
  try {
    const { body } = await fetchJson(`/v1/probes/${encodeURIComponent(a)}/diff/${encodeURIComponent(b)}`);
    renderDiff(body);
    const changed = (body.figures || []).filter((f) => f.verdict === 'better' || f.verdict === 'worse').length;
    $('#compare-status').textContent = `Compared: ${(body.figures || []).length} figures in both, ${changed} changed ` +
      'beyond their noise.';
  } catch (err) {
    $('#compare-status').textContent = '';
    box.replaceChildren(el('p', { class: 'error-title', text: 'Could not compare the probes' }),
      el('p', { class: 'error-detail', text: err.message }));
    box.hidden = false;
  }
}

// Where the hardware of an answer came from (its hardware_source), as a person says it.
const HARDWARE_SOURCES = { 'this-machine': 'this machine', request: 'as you described it', probe: 'a stored probe’s machine' };

/** The answer's three lines: Recommendation.summary (optional in the contract: else the first place's name). */
function answerSummary(data, first) {
  return data.summary || { headline: `Use ${first.name || frameworkName(first.framework)}` };
}

/** The answer first: what to use, one line why, its install command and starter, and why not the runner-up. */
function renderAnswer(data, first) {
  const summary = answerSummary(data, first);
  const name = first.name || frameworkName(first.framework);
  const box = el('div', { class: 'answer', id: 'answer' },
    el('p', { class: 'answer-kicker', text: 'Recommendation' }),
    el('h2', { id: 'answer-headline', tabindex: '-1', text: summary.headline }));
  if (summary.why) box.append(el('p', { class: 'answer-why', id: 'answer-why' }, el('strong', { text: 'Why: ' }), summary.why));
  if (first.supported) {
    box.append(el('p', { class: 'answer-label', text: 'Install' }), codeBlock(first.install, `${name} install command`, 'install'));
    if (first.starter) {
      box.append(el('p', { class: 'starter-actions' },
        el('span', {}, 'Then start from ', el('code', { text: first.starter.filename }), ':'), ' ',
        downloadButton(first.starter, `${name} starter`), ' ',
        el('a', { href: `#fw-${first.framework}`, 'data-starter': 'true', text: 'read it below' })));
    }
  }
  if (summary.runner_up) {
    box.append(el('p', { class: 'runner-up', id: 'runner-up' }, el('strong', { text: 'Runner-up: ' }), summary.runner_up));
  }
  return box;
}

function renderChanges(changes) {
  const list = el('ul', { class: 'changes', id: 'what-would-change' }, ...(changes || []).map((change) =>
    el('li', { text: change.message })));
  if (!(changes || []).length) list.append(el('li', { text: 'No single change that was tried puts another framework first.' }));
  return [el('h3', { text: 'What would change the answer' }), list];
}

function renderResults(data, { focus = false } = {}) {
  const results = $('#results');
  const ranking = [...(data.ranking || [])].sort((a, b) => a.rank - b.rank);
  const first = ranking[0];
  results.replaceChildren();
  if (first) results.append(renderAnswer(data, first));
  const confidence = renderConfidence(data.confidence);
  if (confidence) results.append(confidence);
  results.append(...renderChanges(data.what_would_change));
  if (data.hardware) {
    const source = HARDWARE_SOURCES[data.hardware_source];
    results.append(el('p', { class: 'hw-used', text: `Hardware${source ? ` (${source})` : ''}: ${summariseHardware(data.hardware).join(' · ')}` }));
  }
  results.append(data.probe_id
    ? el('p', { class: 'hw-used' }, `Measurements used: probe ${data.probe_id} (`,
      el('a', { href: '#measurements', text: 'chart of its figures' }), `)${describeMeasurements(data.measurements)}.`)
    : el('p', { class: 'hw-used', text: 'Measurements used: none.' }));
  const here = data.hardware_source === 'this-machine';
  results.append(renderRankingTable(ranking), ...ranking.map((fw) => renderFramework(fw, here)));
  if (first) {
    $('#announce').textContent = `Recommendation ready: ${answerSummary(data, first).headline}. ` +
      `${first.name || frameworkName(first.framework)} ranks first of ${ranking.length}, with score ${formatNumber(first.score)}.`;
    // Someone who asked reads the answer next: focus goes to its headline (a re-ask after a probe leaves focus be).
    if (focus) $('#answer-headline').focus();
  }
  showProbeOfRecommendation(data);
  if (data.rulebase) {
    $('#rulebase').textContent = `${data.rulebase.version} (sha256 ${String(data.rulebase.sha256).slice(0, 12)}…)`;
  }
}

let loading = false;
let lastRequest = null;

function setLoading(value) {
  loading = value;
  const button = $('#submit');
  // aria-disabled rather than disabled, so keyboard focus stays on the button.
  button.setAttribute('aria-disabled', String(value));
  button.textContent = value ? 'Loading…' : 'Recommend a framework';
  $('#results').setAttribute('aria-busy', String(value));
}

async function sendRequest(body, { focus = false } = {}) {
  lastRequest = body;
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
  renderResults(data, { focus });
}

async function onSubmit(event) {
  event.preventDefault();
  if (loading) return;
  const form = event.currentTarget;
  syncGoalValidity();
  syncCpuCoresRequired();
  if (!form.reportValidity()) return;
  clearError();
  setLoading(true);
  try {
    await sendRequest(buildRequestBody(form), { focus: true });
  } finally {
    setLoading(false);
  }
}

async function init() {
  const form = $('#advisor-form');
  try {
    await loadVocabulary();
  } catch (err) {
    showError('Could not load the form', `The service did not answer GET /v1/vocabulary (${err.message}). Reload the page to try again.`);
    return;
  }
  form.dataset.ready = 'true';
  form.addEventListener('submit', onSubmit);
  form.addEventListener('change', (event) => {
    const name = event.target.name;
    if (name === 'hardware-mode') syncHardwareMode();
    else if (name === 'goals') syncGoalValidity();
    else if (name === 'accelerator-kind') syncAcceleratorFields();
  });
  $('#hw-cpu-model').addEventListener('input', syncCpuCoresRequired);
  $('#probe-button').addEventListener('click', onProbeClick);
  // A ranking-table link opens the framework's details and moves focus there.
  $('#results').addEventListener('click', (event) => {
    const link = event.target.closest('a[href^="#fw-"]');
    if (!link) return;
    const details = document.getElementById(link.getAttribute('href').slice(1));
    if (!details) return;
    event.preventDefault();
    details.open = true;
    // "read it below" (the answer's starter link) opens the program too and goes to it.
    const program = link.dataset.starter && details.querySelector('.starter-code');
    if (program) program.open = true;
    const target = (link.dataset.starter && details.querySelector('.starter-actions .download')) || details.querySelector('summary');
    target.focus();
    (target.closest('.starter-actions') || details).scrollIntoView({ block: 'start' });
  });
  syncHardwareMode();
  syncAcceleratorFields();
  syncGoalValidity();
  loadMachineSummary();
  $('#compare-button').addEventListener('click', onCompare);
  loadProbeChoices();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
