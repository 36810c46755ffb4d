// The node dashboard: reads GET /stats every two seconds and redraws. Plain DOM, text only.

const REFRESH_MS = 2000;
/** Activity rows shown: whole rows only, the newest first (the node keeps more). */
const ACTIVITY_ROWS = 12;
let paused = false;
let lastOk = 0;
let timer;

const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const [name, ...classes] = tag.split('.');
  const node = document.createElement(name);
  if (classes.length) node.className = classes.join(' ');
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const numberFormat = new Intl.NumberFormat('en');
const count = (n) => numberFormat.format(n);
/** "1 entry", "2 entries": counts in sentences agree with their noun. */
const plural = (n, one, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

function ago(ms) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function duration(seconds) {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  if (seconds < 86400)
    return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`;
}

function shortTable(text) {
  return `${text.slice(0, 14)}…${text.slice(-6)}`;
}

function card(label, value, detail, test, tone = '') {
  return el(
    `div.card${tone ? `.${tone}` : ''}`,
    {},
    el('div.card-label', {}, label),
    el('div.card-value', { 'data-test': test }, value),
    el('div.card-detail', {}, detail),
  );
}

/** Fills a table body; each cell is labelled with its column, for the narrow-screen layout. */
function fill(id, rows, empty, columns) {
  const body = $(id);
  body.replaceChildren(
    ...(rows.length > 0 ? rows : [el('tr', {}, el('td.empty', { colspan: columns }, empty))]),
  );
  const heads = [...(body.closest('table')?.querySelectorAll('thead th') ?? [])];
  if (rows.length === 0 || heads.length === 0) return;
  for (const row of rows) {
    [...row.children].forEach((cell, i) => {
      if (heads[i]) cell.setAttribute('data-label', heads[i].textContent);
    });
  }
}

const idle = (round) =>
  round.peers.every((p) => p.outcome === 'equal' && p.stored === 0 && p.pushed === 0);

/** Recent rounds, newest first; runs of rounds that found nothing to do fold into one line. */
function roundItems(sync) {
  const rounds = sync?.recent_rounds ?? [];
  if (rounds.length === 0)
    return [el('li.muted', {}, sync ? 'No round yet.' : 'Sync is not enabled.')];
  const items = [];
  for (let i = 0; i < rounds.length; ) {
    const r = rounds[i];
    if (idle(r)) {
      let j = i;
      while (j + 1 < rounds.length && idle(rounds[j + 1])) j += 1;
      const peers = new Set(rounds.slice(i, j + 1).flatMap((x) => x.peers.map((p) => p.url)));
      items.push(
        el(
          'li',
          {},
          el(
            'div.round-head',
            {},
            el('strong', {}, j > i ? `#${rounds[j].round}–#${r.round}` : `#${r.round}`),
            el('span', {}, ago(r.at)),
            el(
              'span.muted',
              {},
              peers.size === 0 ? 'no peer was due' : `in sync with ${[...peers].join(', ')}`,
            ),
          ),
        ),
      );
      i = j + 1;
      continue;
    }
    items.push(
      el(
        'li',
        {},
        el(
          'div.round-head',
          {},
          el('strong', {}, `#${r.round}`),
          el('span', {}, ago(r.at)),
          el('span.muted', {}, `${r.ms} ms`),
        ),
        r.peers.map((p) =>
          el(
            'div.round-peer',
            {},
            el(
              `span.pill.${p.outcome === 'failed' || p.outcome === 'misbehaved' ? 'failing' : 'ok'}`,
              {},
              p.outcome,
            ),
            el('code', {}, p.url),
            el(
              'span.muted',
              {},
              `+${p.stored} stored, ${p.pushed} pushed${p.error ? ` · ${p.error}` : ''}`,
            ),
          ),
        ),
      ),
    );
    i += 1;
  }
  return items;
}

function render(stats) {
  const { node, totals, sync, peers, ingest, requests } = stats;
  $('node-url').textContent =
    `${node.urls.join(', ')} · v${node.version} · up ${duration(node.uptime_seconds)}`;
  // Counters of events live in the node's memory and start again at zero with the process;
  // what the store holds (entries, bytes, tables, peers) is kept. Each counter says which.
  const sinceStart = `since start (${duration(node.uptime_seconds)} ago)`;
  const okPeers = peers.filter((p) => p.state === 'ok').length;
  const failing = peers.filter((p) => p.state === 'failing' || p.state === 'dropped').length;
  $('cards').replaceChildren(
    card('Entries', count(totals.entries), `in ${plural(totals.tables, 'table')}`, 'total-entries'),
    card(
      'Stored',
      bytes(totals.bytes),
      totals.disk_bytes ? `${bytes(totals.disk_bytes)} on disk` : 'payload bytes',
      'total-bytes',
    ),
    card(
      'Peers',
      `${okPeers} / ${peers.length}`,
      failing > 0 ? `${count(failing)} failing` : peers.length > 0 ? 'all healthy' : 'none yet',
      'peer-count',
      failing > 0 ? 'warn' : '',
    ),
    card(
      'Sync rounds',
      sync ? count(sync.rounds) : 'off',
      sync
        ? sync.running
          ? `running: ${sync.current?.phase ?? ''}`
          : `since start; ${plural(ingest.stored_from_sync, 'entry', 'entries')} came from peers`
        : 'sync is not enabled',
      'sync-rounds',
    ),
    card(
      'Rejected',
      count(ingest.rejected),
      `since start; ${plural(ingest.duplicates, 'duplicate')}`,
      'rejected-total',
      ingest.rejected > 0 ? 'warn' : '',
    ),
    card(
      'Minimum work',
      `${node.min_pow_bits} bits`,
      `entries up to ${bytes(node.max_entry_bytes)}`,
      'min-pow',
    ),
  );

  const largest = Math.max(1, ...stats.tables.map((t) => t.entries));
  $('tables-sub').textContent =
    totals.tables > stats.tables.length
      ? `largest ${stats.tables.length} of ${count(totals.tables)}`
      : '';
  fill(
    'tables',
    stats.tables.map((t) =>
      el(
        'tr',
        { 'data-table': t.table },
        el('td', {}, el('code', { title: t.table }, shortTable(t.table))),
        el('td.num', { 'data-test': 'table-entries' }, count(t.entries)),
        el('td.num', {}, bytes(t.bytes)),
        el(
          'td.share',
          {},
          el('div.bar', {}, el(`div.bar-fill.w${Math.round((t.entries / largest) * 20)}`)),
        ),
        el('td.num', {}, ago(t.last_created_at)),
      ),
    ),
    'No entries yet.',
    5,
  );

  $('peers-sub').textContent = peers.length ? `${okPeers} ok` : '';
  fill(
    'peers',
    peers.map((p) =>
      el(
        'tr',
        {},
        el('td', {}, el('code', {}, p.url), el('span.source', {}, p.source)),
        el('td', {}, el(`span.pill.${p.state}`, {}, p.state)),
        el('td.num', {}, ago(p.last_seen)),
        el(
          'td.num',
          {},
          p.failures > 0 ? `${p.failures} (retry in ${p.next_attempt_in_seconds}s)` : '0',
        ),
      ),
    ),
    'No peers known. Start the node with --peer URL.',
    4,
  );

  $('sync-sub').textContent = sync
    ? `${count(sync.totals.fetched)} fetched · ${count(sync.totals.pushed)} pushed ${sinceStart}`
    : 'off';
  $('rounds').replaceChildren(...roundItems(sync));

  $('rejected-sub').textContent = stats.rejected.length
    ? `${count(ingest.rejected)} ${sinceStart}`
    : sinceStart;
  const most = Math.max(1, ...stats.rejected.map((r) => r.count));
  fill(
    'rejected',
    stats.rejected.map((r) =>
      el(
        'tr',
        { 'data-code': r.code },
        el('td', {}, el('code', {}, r.code)),
        el('td.num', {}, count(r.count)),
        el(
          'td.share',
          {},
          el('div.bar.bad', {}, el(`div.bar-fill.w${Math.round((r.count / most) * 20)}`)),
        ),
      ),
    ),
    'Nothing rejected.',
    3,
  );
  $('traffic-sub').textContent = sinceStart;

  const traffic = [
    ['Entries stored', ingest.stored],
    ['… of them from peers', ingest.stored_from_sync],
    ['Duplicates', ingest.duplicates],
    ['Expired and removed', ingest.expired],
    ['PUT requests', requests.put],
    ['GET requests', requests.get],
    ['Hello requests', requests.hello],
  ];
  // A relaying node also shows its tunnels (docs/tunnel-relay.md §7).
  const relay = stats.relay;
  if (relay && relay.enabled) {
    const refused = Object.values(relay.refused).reduce((a, b) => a + b, 0);
    traffic.push(
      ['Relay tunnels (open)', relay.paired],
      ['Relay tunnels (all)', relay.paired_total],
      ['Relay bytes', relay.bytes],
      ['Relay refusals', refused],
    );
  }
  fill(
    'traffic',
    traffic.map(([label, value]) =>
      el('tr', {}, el('td', {}, label), el('td.num', {}, count(value))),
    ),
    '',
    2,
  );

  const activity = stats.activity.slice(0, ACTIVITY_ROWS);
  $('activity-sub').textContent =
    stats.activity.length > activity.length
      ? `latest ${activity.length} of ${count(stats.activity.length)}`
      : '';
  $('activity').replaceChildren(
    ...(activity.length > 0
      ? activity.map((a) =>
          el(
            'li',
            {},
            el('span.time', {}, new Date(a.at).toLocaleTimeString()),
            el(`span.pill.kind-${a.kind}`, {}, a.kind),
            el('span', {}, a.text),
          ),
        )
      : [el('li.muted', {}, 'Nothing happened yet.')]),
  );
}

/** Shown rows of the job list (the node lists its 100 most recent). */
const JOB_ROWS = 12;

/** The jobs panel: running and recent jobs from GET /jobs, hidden on a node without compute. */
function renderJobs(list) {
  const panel = $('jobs-panel');
  if (!list) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const { counts } = list;
  $('jobs-sub').textContent =
    `${count(list.running)} running · ${count(list.queued)} waiting · ` +
    `${count(counts.done)} done · ${count(counts.failed)} failed · ${plural(list.workers, 'worker')}`;
  const rows = list.jobs.slice(0, JOB_ROWS);
  fill(
    'jobs',
    rows.map((j) =>
      el(
        'tr',
        { 'data-job': j.id },
        el('td', {}, el('code', { title: j.id }, `${j.id.slice(0, 12)}…`)),
        el('td', {}, el(`span.pill.job-${j.status}`, {}, j.status)),
        el(
          'td',
          {},
          j.outcome
            ? el(`code${j.outcome === 'ok' ? '' : '.outcome-bad'}`, {}, j.outcome)
            : j.reason
              ? el('code.outcome-bad', {}, j.reason)
              : '–',
        ),
        el('td.num', {}, j.fuel === null ? '–' : count(j.fuel)),
        el('td.num', {}, j.wall_ms === null ? '–' : `${count(j.wall_ms)} ms`),
        el('td.num', {}, ago(j.finished_at ?? j.started_at ?? j.received_at)),
      ),
    ),
    'No job yet.',
    6,
  );
}

/** Set once GET /jobs refused this page (a metrics token is set): it is not asked again. */
let jobsRefused = false;

/** GET /jobs, or undefined when the node runs no jobs or does not show them to this page. */
async function fetchJobs(stats) {
  if (!stats.compute || jobsRefused) return undefined;
  try {
    const response = await fetch('/jobs', { cache: 'no-store' });
    if (!response.ok) {
      jobsRefused = response.status === 403;
      await response.body?.cancel();
      return undefined;
    }
    return await response.json();
  } catch {
    return undefined;
  }
}

async function refresh() {
  try {
    const response = await fetch('/stats', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const stats = await response.json();
    render(stats);
    renderJobs(await fetchJobs(stats));
    lastOk = Date.now();
    $('pulse').className = 'pulse ok';
  } catch (error) {
    $('pulse').className = 'pulse down';
    $('updated').textContent = `node unreachable (${error.message})`;
    return;
  }
  $('updated').textContent = 'live';
}

function schedule() {
  clearTimeout(timer);
  if (!paused)
    timer = setTimeout(async () => {
      await refresh();
      schedule();
    }, REFRESH_MS);
}

setInterval(() => {
  if (lastOk && !paused) $('updated').textContent = `live · updated ${ago(lastOk)}`;
  if (paused) $('updated').textContent = 'paused';
}, 1000);

$('pause').addEventListener('click', () => {
  paused = !paused;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
  if (!paused) void refresh();
  schedule();
});

await refresh();
schedule();
