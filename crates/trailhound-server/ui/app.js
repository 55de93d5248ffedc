'use strict';
// trailhound web UI: a hash-routed single page over the JSON API (/api). Every value from the
// server is put into the page as text (never as HTML), and the page runs under a strict
// Content-Security-Policy with no inline script or style.

const app = document.getElementById('app');
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'informational'];
const STATUSES = ['open', 'acknowledged', 'closed-tp', 'closed-fp'];
const KINDS = ['sigma', 'builtin', 'metric-filter', 'canary', 'policy', 'anomaly', 'correlation', 'intel', 'integrity'];
const SVG_NS = 'http://www.w3.org/2000/svg';

// ---------------------------------------------------------------- helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const child of children) {
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

class ApiError extends Error {}

async function api(path, options = {}) {
  const init = { credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (options.body !== undefined) {
    init.method = 'POST';
    init.headers['content-type'] = 'application/json';
    init.headers['x-trailhound-csrf'] = '1';
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    window.location.assign('/login');
    throw new ApiError('signed out');
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(data.error || response.statusText);
  return data;
}

function fmtTime(t) {
  return t ? String(t).replace('T', ' ').replace('Z', '') : '';
}

function sev(s) {
  return h('span', { class: 'sev sev-' + s }, s);
}

function statusBadge(s) {
  return h('span', { class: 'status status-' + s, 'data-status': s }, s);
}

function pivotHref(kind, value) {
  return '#/pivot/' + kind + '/' + encodeURIComponent(value);
}

function pivotLink(kind, value) {
  if (!value) return h('span', { class: 'muted' }, '—');
  return h('a', { href: pivotHref(kind, value), 'data-pivot': kind }, value);
}

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '') || '/alerts';
  const [path, query] = raw.split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(query || '') };
}

function setHash(path, params) {
  const query = params ? params.toString() : '';
  window.location.hash = '#' + path + (query ? '?' + query : '');
}

function showError(e) {
  app.replaceChildren(h('p', { class: 'error', role: 'alert' }, String(e.message || e)));
}

function analyst() {
  return (localStorage.getItem('trailhound.analyst') || '').trim() || 'analyst';
}

// A bar chart of time buckets as inline SVG.
function barChart(buckets, bucketMs, opts = {}) {
  const width = 600, height = 120, pad = 18;
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': opts.label || 'timeline' });
  if (!buckets || buckets.length === 0) {
    chart.append(svg('text', { x: 10, y: 60 }, 'no events'));
    return chart;
  }
  const start = Date.parse(buckets[0].start);
  const end = Date.parse(buckets[buckets.length - 1].start) + bucketMs;
  const span = Math.max(end - start, bucketMs);
  const max = Math.max(...buckets.map((b) => b.count), 1);
  const barW = Math.max(((width - 2 * pad) * bucketMs) / span - 1, 1);
  for (const b of buckets) {
    const x = pad + ((Date.parse(b.start) - start) / span) * (width - 2 * pad);
    const bh = (b.count / max) * (height - 2 * pad);
    const rect = svg('rect', { class: 'bar' + (opts.alert ? ' alert' : ''), x: x.toFixed(1),
      y: (height - pad - bh).toFixed(1), width: barW.toFixed(1), height: Math.max(bh, 1).toFixed(1) });
    rect.append(svg('title', {}, `${fmtTime(b.start)}: ${b.count}`));
    chart.append(rect);
  }
  chart.append(svg('text', { x: pad, y: height - 4 }, fmtTime(buckets[0].start)));
  chart.append(svg('text', { x: width - pad, y: height - 4, 'text-anchor': 'end' },
    fmtTime(new Date(end).toISOString())));
  chart.append(svg('text', { x: pad, y: 12 }, `max ${max}`));
  return chart;
}

function countList(title, counts, linker) {
  return h('div', { class: 'card' }, h('h2', {}, title),
    counts.length === 0 ? h('p', { class: 'muted' }, 'none') :
      h('ol', { class: 'bars' }, counts.map((c) => h('li', {},
        linker && c.value ? linker(c.value) : h('span', {}, c.value || '(none)'),
        h('span', { class: 'num' }, c.count)))));
}

function eventTable(rows) {
  return h('table', { class: 'events' },
    h('thead', {}, h('tr', {}, ['Time', 'Event', 'Principal', 'Source IP', 'Key', 'Region', 'Error']
      .map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.map((e) => h('tr', {},
      h('td', {}, fmtTime(e.event_time)),
      h('td', {}, e.event_source.replace('.amazonaws.com', '') + ':' + e.event_name),
      h('td', {}, pivotLink('principal', e.principal_arn)),
      h('td', {}, pivotLink('ip', e.source_ip)),
      h('td', {}, pivotLink('key', e.access_key_id)),
      h('td', {}, e.aws_region || ''),
      h('td', {}, e.error_code || '')))));
}

function alertTable(items) {
  return h('table', { class: 'alerts' },
    h('thead', {}, h('tr', {}, ['Severity', 'Title', 'Rule', 'Principal', 'Status', 'Last seen', 'Events']
      .map((t) => h('th', { class: t === 'Events' ? 'num' : '' }, t)))),
    h('tbody', {}, items.map((a) => h('tr', { 'data-alert': a.id },
      h('td', {}, sev(a.severity)),
      h('td', {}, h('a', { href: '#/alert/' + a.id, class: 'alert-link' }, a.title)),
      h('td', {}, h('span', { title: a.rule_name }, a.rule_id), ' ', h('span', { class: 'muted' }, a.rule_kind)),
      h('td', {}, pivotLink('principal', a.principal)),
      h('td', {}, statusBadge(a.status), a.assignee ? h('span', { class: 'muted' }, ' ' + a.assignee) : null),
      h('td', {}, fmtTime(a.last_seen)),
      h('td', { class: 'num' }, a.event_count)))));
}

// ---------------------------------------------------------------- live updates

let liveSource = null;
let liveListeners = [];

function startLive(afterSeq) {
  if (liveSource) return;
  const badge = document.getElementById('live');
  liveSource = new EventSource('/api/alerts/stream' + (afterSeq ? '?after=' + afterSeq : ''));
  liveSource.addEventListener('open', () => badge.classList.add('on'));
  liveSource.addEventListener('error', () => badge.classList.remove('on'));
  liveSource.addEventListener('alert', (event) => {
    const alert = JSON.parse(event.data);
    for (const listener of liveListeners) listener(alert);
  });
}

// ---------------------------------------------------------------- alerts view

const FILTER_KEYS = ['severity', 'status', 'kind', 'rule', 'account', 'principal', 'q', 'since', 'until', 'sort', 'order'];

async function alertsView(params) {
  const limit = 50;
  const offset = Number(params.get('offset') || 0);
  const query = new URLSearchParams();
  for (const k of FILTER_KEYS) if (params.get(k)) query.set(k, params.get(k));
  query.set('limit', String(limit));
  query.set('offset', String(offset));
  const page = await api('/api/alerts?' + query);

  const field = (name, label, input) => h('label', {}, label, input);
  const select = (name, options, value) => h('select', { name, 'data-filter': name },
    h('option', { value: '' }, 'any'), options.map((o) => h('option', { value: o, selected: o === value }, o)));
  const text = (name, value, placeholder) => h('input', { name, 'data-filter': name, value: value || '', placeholder: placeholder || '' });
  const form = h('form', { class: 'filters', id: 'filters' },
    field('severity', 'Severity', select('severity', SEVERITIES, params.get('severity'))),
    field('status', 'Status', select('status', STATUSES, params.get('status'))),
    field('kind', 'Kind', select('kind', KINDS, params.get('kind'))),
    field('rule', 'Rule', text('rule', params.get('rule'), 'TH… or name')),
    field('account', 'Account', text('account', params.get('account'), '123456789012')),
    field('principal', 'Principal', text('principal', params.get('principal'), 'arn:aws:iam::…')),
    field('q', 'Title contains', text('q', params.get('q'))),
    field('since', 'Since', h('input', { name: 'since', type: 'date', 'data-filter': 'since', value: params.get('since') || '' })),
    field('until', 'Until', h('input', { name: 'until', type: 'date', 'data-filter': 'until', value: params.get('until') || '' })),
    field('sort', 'Sort', h('select', { name: 'sort', 'data-filter': 'sort' },
      [['last_seen', 'last seen'], ['first_seen', 'first seen'], ['severity', 'severity'], ['event_count', 'events'], ['rule', 'rule']]
        .map(([v, t]) => h('option', { value: v, selected: v === (params.get('sort') || 'last_seen') }, t)))),
    field('order', 'Order', h('select', { name: 'order', 'data-filter': 'order' },
      [['desc', 'descending'], ['asc', 'ascending']].map(([v, t]) => h('option', { value: v, selected: v === (params.get('order') || 'desc') }, t)))),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'),
    h('button', { type: 'button', onclick: () => setHash('/alerts') }, 'Clear'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const el of form.querySelectorAll('[data-filter]')) if (el.value) next.set(el.name, el.value);
    setHash('/alerts', next);
  });
  form.addEventListener('change', (event) => {
    if (event.target.tagName === 'SELECT') form.requestSubmit();
  });

  const counts = h('div', { class: 'counts', id: 'counts' },
    h('strong', { id: 'total' }, `${page.total} alerts`),
    page.by_severity.map((c) => h('span', { class: 'chip' }, sev(c.value), ' ', c.count)),
    page.by_status.map((c) => h('span', { class: 'chip' }, statusBadge(c.value), ' ', c.count)));
  const banner = h('div', { class: 'banner', id: 'new-alerts', hidden: true });
  const pager = h('div', { class: 'pager' },
    h('button', { disabled: offset === 0, onclick: () => { params.set('offset', String(Math.max(offset - limit, 0))); setHash('/alerts', params); } }, '‹ Newer'),
    h('span', { class: 'muted' }, page.total === 0 ? '' : `${offset + 1}–${offset + page.items.length} of ${page.total}`),
    h('button', { disabled: offset + limit >= page.total, onclick: () => { params.set('offset', String(offset + limit)); setHash('/alerts', params); } }, 'Older ›'));
  app.replaceChildren(h('h1', {}, 'Alerts'), form, counts, banner,
    page.items.length ? alertTable(page.items) : h('p', { class: 'muted' }, 'No alerts match.'), pager);

  // Live: new alerts reload the list (debounced) so filters and counts stay right.
  let fresh = 0;
  let timer = null;
  liveListeners = [(alert) => {
    fresh += 1;
    banner.hidden = false;
    banner.textContent = `${fresh} new alert${fresh === 1 ? '' : 's'} (latest: ${alert.title})`;
    if (offset === 0) {
      clearTimeout(timer);
      timer = setTimeout(() => route({ keepBanner: banner.textContent }), 500);
    }
  }];
  startLive(page.latest_seq);
}

// ---------------------------------------------------------------- alert page

const ATTACK = /^T\d{4}(\.\d{3})?$/;

function attackLink(id) {
  if (!ATTACK.test(id)) return h('span', {}, id);
  return h('a', { href: 'https://attack.mitre.org/techniques/' + id.replace('.', '/') + '/',
    target: '_blank', rel: 'noopener noreferrer', class: 'attack' }, id);
}

// Renders JSON as text spans; keys and values named in the alert's reason are highlighted.
function jsonView(value, hints, path = '', indent = '') {
  const out = [];
  const next = indent + '  ';
  const isHint = (s) => hints.has(s);
  if (Array.isArray(value)) {
    out.push('[\n');
    value.forEach((v, i) => {
      out.push(next, ...jsonView(v, hints, path, next), i < value.length - 1 ? ',\n' : '\n');
    });
    out.push(indent, ']');
  } else if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    out.push('{\n');
    keys.forEach((k, i) => {
      const full = path ? path + '.' + k : k;
      const matched = isHint(k) || isHint(full);
      out.push(next, h('span', { class: 'json-key' + (matched ? ' hl' : ''), 'data-path': full }, JSON.stringify(k)), ': ',
        ...jsonView(value[k], hints, full, next), i < keys.length - 1 ? ',\n' : '\n');
    });
    out.push(indent, '}');
  } else if (typeof value === 'string') {
    out.push(h('span', { class: 'json-str' + (isHint(value) ? ' hl' : '') }, JSON.stringify(value)));
  } else {
    out.push(h('span', { class: 'json-num' + (isHint(String(value)) ? ' hl' : '') }, JSON.stringify(value)));
  }
  return out;
}

function hintsOf(alert) {
  const hints = new Set();
  const add = (text) => {
    for (const word of String(text || '').split(/[\s,;()"'`=<>!]+/)) {
      const w = word.replace(/[.:]+$/, '');
      if (w.length >= 3) hints.add(w);
    }
  };
  add(alert.why);
  const matched = alert.context && (alert.context.matched_fields || alert.context.matched);
  if (Array.isArray(matched)) matched.forEach((m) => hints.add(String(m)));
  else if (matched && typeof matched === 'object') Object.entries(matched).forEach(([k, v]) => { hints.add(k); hints.add(String(v)); });
  hints.add('eventName');
  if (alert.events && alert.events[0]) hints.add(alert.events[0].eventName);
  return hints;
}

async function alertView(id) {
  const data = await api('/api/alerts/' + encodeURIComponent(id));
  const a = data.alert;
  const t = data.triage;
  const e = a.entity || {};
  const hints = hintsOf(a);

  const note = h('textarea', { id: 'note', placeholder: 'Note (saved with the action)' });
  const assignee = h('input', { id: 'assignee', placeholder: 'assignee', value: t.assignee || '' });
  const message = h('span', { id: 'action-result', class: 'muted', role: 'status' });
  const act = async (action, extra = {}) => {
    try {
      await api('/api/alerts/' + encodeURIComponent(id) + '/actions',
        { body: { action, note: note.value || null, by: analyst(), ...extra } });
      await alertView(id);
      document.getElementById('action-result').textContent = 'Saved: ' + action;
    } catch (err) {
      message.textContent = 'Failed: ' + err.message;
    }
  };
  const actions = h('div', { class: 'card' }, h('h2', {}, 'Triage'),
    h('p', {}, 'Status ', statusBadge(t.status), t.assignee ? ` · assigned to ${t.assignee}` : ''),
    note,
    h('div', { class: 'actions' },
      h('button', { id: 'ack', class: 'primary', onclick: () => act('acknowledge') }, 'Acknowledge'),
      h('button', { id: 'close-tp', onclick: () => act('close-tp') }, 'Close: true positive'),
      h('button', { id: 'close-fp', onclick: () => act('close-fp') }, 'Close: false positive'),
      h('button', { id: 'reopen', onclick: () => act('reopen') }, 'Reopen'),
      h('button', { id: 'comment', onclick: () => act('comment') }, 'Add note')),
    h('div', { class: 'actions' }, assignee,
      h('button', { id: 'assign', onclick: () => act('assign', { assignee: assignee.value }) }, 'Assign'),
      h('button', { id: 'suppress', title: 'Silence this rule for this principal', onclick: () => {
        if (window.confirm('Suppress future alerts of this rule for this principal?')) act('suppress');
      } }, 'Suppress similar')),
    message,
    h('h2', {}, 'History'),
    data.history.length === 0 ? h('p', { class: 'muted' }, 'No changes yet.') :
      h('ol', { class: 'bars', id: 'history' }, data.history.map((x) => h('li', {},
        h('span', {}, `${fmtTime(x.at)} · ${x.by} · ${x.action}`, x.note ? ` — ${x.note}` : ''),
        statusBadge(x.status)))));

  const facts = h('dl', { class: 'kv' },
    h('dt', {}, 'Rule'), h('dd', {}, `${a.rule.id} ${a.rule.name} (${a.rule.kind})`, a.rule.author ? ` · by ${a.rule.author}` : ''),
    h('dt', {}, 'Why'), h('dd', { id: 'why' }, a.why),
    h('dt', {}, 'ATT&CK'), h('dd', {}, a.attack.length ? a.attack.flatMap((x, i) => (i ? [' ', attackLink(x)] : [attackLink(x)])) : '—'),
    h('dt', {}, 'Seen'), h('dd', {}, `${fmtTime(a.first_seen)} → ${fmtTime(a.last_seen)} · ${a.event_count} event(s)`),
    a.score !== undefined ? [h('dt', {}, 'Score'), h('dd', {}, a.score)] : null);
  const entity = h('dl', { class: 'kv', id: 'entity' },
    h('dt', {}, 'Principal'), h('dd', {}, pivotLink('principal', e.principal)),
    h('dt', {}, 'Account'), h('dd', {}, e.account || '—'),
    h('dt', {}, 'Source IP'), h('dd', {}, pivotLink('ip', e.source_ip)),
    h('dt', {}, 'Access key'), h('dd', {}, pivotLink('key', e.access_key_id)),
    h('dt', {}, 'Region'), h('dd', {}, e.region || '—'),
    h('dt', {}, 'User agent'), h('dd', {}, e.user_agent || '—'));
  const contextEntries = Object.entries(a.context || {});
  const baseline = contextEntries.length === 0 ? null : h('div', { class: 'card', id: 'baseline' },
    h('h2', {}, a.rule.kind === 'anomaly' ? 'Baseline it broke' : 'Evidence'),
    h('dl', { class: 'kv' }, contextEntries.flatMap(([k, v]) => [h('dt', {}, k),
      h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))])));
  const events = h('div', { id: 'events' }, h('h2', {}, `Events (${data.events.length} stored of ${a.event_count})`),
    data.events.length === 0 ? h('p', { class: 'muted' }, 'The events behind this alert are not in the store.') :
      data.events.map((ev, i) => h('details', { class: 'event', open: i === 0 },
        h('summary', {}, `${fmtTime(ev.eventTime)} ${ev.eventSource || ''} ${ev.eventName || ''} ${ev.sourceIPAddress || ''}`),
        h('pre', { class: 'raw' }, ...jsonView(ev, hints)))));

  app.replaceChildren(
    h('p', {}, h('a', { href: '#/alerts' }, '‹ Alerts')),
    h('h1', { id: 'alert-title' }, sev(a.severity), ' ', a.title),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, 'What'), facts),
      h('div', { class: 'card' }, h('h2', {}, 'Who and where'), entity),
      actions),
    baseline,
    h('h2', {}, 'Principal activity around the alert'),
    barChart(data.timeline.principal_buckets, data.timeline.bucket_ms, { label: 'principal activity' }),
    h('h2', {}, 'Runbook'), h('div', { class: 'card runbook' }, a.runbook || 'No runbook for this rule.'),
    a.references && a.references.length ? [h('h2', {}, 'References'), h('ul', {}, a.references.map((r) =>
      h('li', {}, /^https?:\/\//.test(r) ? h('a', { href: r, target: '_blank', rel: 'noopener noreferrer' }, r) : r)))] : null,
    events);
}

// ---------------------------------------------------------------- investigation

async function searchView(params) {
  const mode = params.get('mode') === 'sql' ? 'sql' : 'text';
  const q = params.get('q') || '';
  const input = mode === 'sql'
    ? h('textarea', { id: 'sql', name: 'q', spellcheck: 'false' }, q || 'SELECT event_name, count(*) AS n FROM events GROUP BY 1 ORDER BY n DESC LIMIT 20')
    : h('input', { id: 'q', name: 'q', value: q, placeholder: 'access key, IP, bucket, any word…', autocomplete: 'off' });
  const form = h('form', { class: 'searchbox', id: 'search-form' }, input, h('button', { type: 'submit', class: 'primary' }, mode === 'sql' ? 'Run' : 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setHash('/search', new URLSearchParams({ mode, q: input.value }));
  });
  const tab = (m, label) => h('button', { type: 'button', class: m === mode ? 'active' : '', 'data-tab': m,
    onclick: () => setHash('/search', new URLSearchParams({ mode: m })) }, label);
  const results = h('div', { id: 'results' });
  app.replaceChildren(h('h1', {}, 'Investigate'), h('div', { class: 'tabs' }, tab('text', 'Full text'), tab('sql', 'SQL')), form,
    h('p', { class: 'muted' }, mode === 'sql'
      ? 'One read-only statement over events, alerts, alert_events, event_counts (SQLite); at most 1000 rows.'
      : 'Every word must occur. Pivot from any principal, IP or key in the results.'),
    results);
  if (!q) return;
  results.append(h('p', { class: 'muted' }, 'Running…'));
  try {
    if (mode === 'sql') {
      const data = await api('/api/sql', { body: { sql: q } });
      results.replaceChildren(h('p', { class: 'muted' }, `${data.rows.length} row(s)${data.truncated ? ' (truncated)' : ''} in ${data.elapsed_ms} ms`),
        h('table', { class: 'sql' }, h('thead', {}, h('tr', {}, data.columns.map((c) => h('th', {}, c)))),
          h('tbody', {}, data.rows.map((r) => h('tr', {}, r.map((v) => h('td', {}, v === null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v))))))));
    } else {
      const data = await api('/api/search?' + new URLSearchParams({ q, limit: '200' }));
      results.replaceChildren(h('p', { class: 'muted' }, `${data.events.length} event(s), newest first`),
        data.events.length ? eventTable(data.events) : h('p', {}, 'Nothing found.'),
        h('p', {}, 'Pivot on this as a resource: ', pivotLink('resource', q)));
    }
  } catch (e) {
    results.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

async function pivotView(kind, value) {
  const data = await api('/api/pivot?' + new URLSearchParams({ kind, value, limit: '200' }));
  const p = data.pivot;
  app.replaceChildren(
    h('h1', { id: 'pivot-title' }, `${kind}: `, h('span', {}, value)),
    h('p', { class: 'muted' }, `${p.total} event(s)` + (p.first_seen ? ` · ${fmtTime(p.first_seen)} → ${fmtTime(p.last_seen)}` : '')),
    barChart(data.histogram.buckets, data.histogram.bucket_ms, { label: 'events over time' }),
    h('div', { class: 'grid' },
      countList('Top APIs', p.by_api, (v) => h('a', { href: '#/search?' + new URLSearchParams({ mode: 'text', q: v.split(':').pop() }) }, v)),
      countList('Regions', p.by_region),
      countList('Source IPs', p.by_source_ip, (v) => pivotLink('ip', v)),
      countList('User agents', p.by_user_agent),
      countList('Principals', p.by_principal, (v) => pivotLink('principal', v))),
    h('h2', {}, `Alerts (${p.alerts.length})`),
    p.alerts.length ? alertTable(p.alerts.map((s) => ({ id: s.alert.id, severity: s.alert.severity, title: s.alert.title,
      rule_id: s.alert.rule.id, rule_name: s.alert.rule.name, rule_kind: s.alert.rule.kind, principal: s.alert.entity.principal,
      status: s.status === 'closed' ? 'closed' : s.status, assignee: s.assignee, last_seen: s.alert.last_seen, event_count: s.alert.event_count }))) :
      h('p', { class: 'muted' }, 'No alerts involve it.'),
    h('h2', {}, `Timeline (newest ${p.timeline.length})`),
    eventTable(p.timeline));
}

// ---------------------------------------------------------------- overview

async function overviewView() {
  const data = await api('/api/overview');
  const o = data.overview;
  const i = data.ingest;
  const fmtRate = (x) => (x >= 10 ? x.toFixed(0) : x.toFixed(2));
  app.replaceChildren(h('h1', {}, 'Overview'),
    h('div', { class: 'grid' },
      h('div', { class: 'card', id: 'alert-totals' }, h('h2', {}, `${o.alerts_total} alerts`),
        h('div', { class: 'counts' }, o.by_severity.map((c) => h('a', { class: 'chip', href: '#/alerts?severity=' + c.value }, sev(c.value), ' ', c.count))),
        h('div', { class: 'counts' }, o.by_status.map((c) => h('a', { class: 'chip', href: '#/alerts?status=' + c.value }, statusBadge(c.value), ' ', c.count)))),
      h('div', { class: 'card', id: 'ingest' }, h('h2', {}, 'Ingest health'),
        h('dl', { class: 'kv' },
          h('dt', {}, 'Events stored'), h('dd', {}, o.events_total),
          h('dt', {}, 'Events/s'), h('dd', {}, fmtRate(i.events_per_second)),
          h('dt', {}, 'Lag'), h('dd', {}, i.lag_seconds === null ? '—' : `${Math.round(i.lag_seconds)} s behind the newest event`),
          h('dt', {}, 'Errors'), h('dd', {}, i.errors),
          h('dt', {}, 'Span'), h('dd', {}, o.first_event ? `${fmtTime(o.first_event)} → ${fmtTime(o.last_event)}` : '—'),
          h('dt', {}, 'Source'), h('dd', {}, i.source)))),
    h('h2', {}, 'Alerts over time (latest day, hourly)'),
    barChart(o.alerts_over_time, o.bucket_ms, { alert: true, label: 'alerts over time' }),
    h('h2', {}, 'Events over time (latest day, hourly)'),
    barChart(o.events_over_time, o.bucket_ms, { label: 'events over time' }),
    h('div', { class: 'grid' },
      countList('Top rules', o.top_rules, (v) => h('a', { href: '#/alerts?' + new URLSearchParams({ rule: v.split(' ')[0] }) }, v)),
      countList('Top principals', o.top_principals, (v) => pivotLink('principal', v))));
}

// ---------------------------------------------------------------- router

async function route() {
  const { parts, params } = parseHash();
  const section = parts[0] || 'alerts';
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === (section === 'alert' ? 'alerts' : section === 'pivot' ? 'search' : section));
  }
  liveListeners = [];
  try {
    if (section === 'alert' && parts[1]) await alertView(decodeURIComponent(parts[1]));
    else if (section === 'search') await searchView(params);
    else if (section === 'pivot' && parts[1] && parts[2]) await pivotView(parts[1], decodeURIComponent(parts.slice(2).join('/')));
    else if (section === 'overview') await overviewView();
    else await alertsView(params);
    document.body.dataset.ready = section;
  } catch (e) {
    if (!(e instanceof ApiError && e.message === 'signed out')) showError(e);
  }
}

const analystInput = document.getElementById('analyst');
analystInput.value = localStorage.getItem('trailhound.analyst') || '';
analystInput.addEventListener('change', () => localStorage.setItem('trailhound.analyst', analystInput.value.trim()));
document.getElementById('logout').addEventListener('click', async () => {
  await api('/api/logout', { body: {} }).catch(() => {});
  window.location.assign('/login');
});
window.addEventListener('hashchange', () => route());
route();
