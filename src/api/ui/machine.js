// One machine at a glance: risk and sensors on one time axis, the alert threshold, failures and
// repairs marked on every plot, why it is at risk, its alerts and events.
import { api, token } from './api.js';
import { alertTable } from './alert-table.js';
import { ago, esc, every, hours, level, pct } from './format.js';

const H = 3_600_000;
const RANGES = { '6h': 6 * H, '24h': 24 * H, '7d': 7 * 24 * H, '30d': 30 * 24 * H };
const SINCE_REPAIR = 'since last repair';
/** "Since the last repair" is the story unless that repair is older than this: then 7 d. */
const MAX_STORY_MS = 90 * 24 * H;
const MARKED = new Set(['failure', 'repair', 'maintenance']);
const COLOURS = ['#0b5cad', '#1a7f37', '#b35c00', '#7b2cbf', '#00838f', '#6d4c41', '#ad1457', '#5b6270'];
/** Every plot reserves this much for its y axis, so their time axes line up to the pixel. */
const Y_AXIS_PX = 72;

/**
 * Vertical markers for failures, repairs and maintenance: elements on uPlot's overlay (visible,
 * titled, and there for the page test to find), placed again whenever the plot is redrawn.
 */
function markerPlugin(events) {
  const place = (u) => {
    u.over.querySelectorAll('.marker').forEach((m) => m.remove());
    for (const e of events) {
      const x = u.valToPos(Date.parse(e.ts) / 1000, 'x');
      if (!(x >= 0 && x <= u.over.clientWidth)) continue;
      const m = document.createElement('div');
      m.className = `marker marker-${e.type}`;
      m.dataset.marker = e.type;
      m.style.left = `${x}px`;
      m.title = `${e.type}${e.component ? ` (${e.component})` : ''} at ${new Date(e.ts).toLocaleString()}${e.note ? `: ${e.note}` : ''}`;
      u.over.append(m);
    }
  };
  // After every draw: the scales are settled then (not yet when the constructor returns).
  return { hooks: { draw: [place] } };
}

export function machine(el, id, { onError }) {
  el.innerHTML = `<h1>${esc(id)}</h1><div id="m-summary" class="meta"></div>
    <div class="toolbar"><label>range <select id="m-range"></select></label><span class="meta" id="m-span"></span>
      <span class="legend"><span class="key key-failure"></span>failure <span class="key key-repair"></span>repair <span class="key key-maintenance"></span>maintenance <span class="key key-threshold"></span>alert threshold</span></div>
    <section class="timeline" id="m-timeline"><h2>Risk</h2><div class="plot" id="m-risk"></div><h2>Health</h2><div class="plot" id="m-health"></div><h2>Sensors</h2><div id="m-sensors"></div></section>
    <div class="panels"><div><h2>Why (sensors raising the risk)</h2><div id="m-top"></div><h2>Why (sensors departing from normal)</h2><div id="m-deviations"></div></div><div><h2>Log an event</h2>
      <form class="event" id="m-event"><select name="type"><option>failure</option><option>maintenance</option><option>repair</option><option>note</option></select>
      <input name="component" placeholder="component"><input name="note" placeholder="note"><button>Record</button></form><div id="m-event-msg" class="meta"></div></div></div>
    <h2>Alerts</h2><div id="m-alerts"></div>
    <h2>Events</h2><div id="m-events"></div>`;
  const plots = [];
  const select = el.querySelector('#m-range');
  let chosen = null;
  select.addEventListener('change', () => ((chosen = select.value), load()));

  /**
   * The story since the last repair (or maintenance), reaching back to the failure it mended when
   * there was one; 7 d when there is no repair in the last 90 d. The reader may pick a fixed range.
   */
  const rangeOf = (events, to) => {
    // Events come newest first: the first repair or maintenance is the last one.
    const last = events.find((e) => e.type === 'repair' || e.type === 'maintenance');
    const repair = last ? Date.parse(last.ts) : null;
    const story = repair !== null && to - repair <= MAX_STORY_MS && to > repair;
    const options = [...(story ? [SINCE_REPAIR] : []), ...Object.keys(RANGES)];
    const pick = chosen && options.includes(chosen) ? chosen : story ? SINCE_REPAIR : '7d';
    select.innerHTML = options.map((o) => `<option ${o === pick ? 'selected' : ''}>${o}</option>`).join('');
    if (pick !== SINCE_REPAIR) return { from: to - RANGES[pick], to };
    const mended = events
      .filter((e) => e.type === 'failure' && Date.parse(e.ts) <= repair && repair - Date.parse(e.ts) <= RANGES['7d'])
      .reduce((t, e) => Math.max(t, Date.parse(e.ts)), -Infinity);
    const start = Number.isFinite(mended) ? mended : repair;
    // A margin before it, so its marker stands clear of the axis.
    return { from: Math.floor(start - Math.max(60_000, (to - start) * 0.04)), to };
  };

  const plot = (box, o) => {
    const { from, to } = o.range;
    const u = new uPlot(
      {
        width: Math.max(260, box.clientWidth - 16),
        height: o.height,
        series: [{}, ...o.series],
        axes: [
          { size: o.xAxis ? 40 : 8, space: 90, ...(o.xAxis ? {} : { values: (_u, splits) => splits.map(() => '') }) },
          { size: Y_AXIS_PX, label: o.unit ?? '', labelSize: 18 },
        ],
        scales: { x: { time: true, range: () => [from / 1000, to / 1000] }, ...(o.y ? { y: o.y } : {}) },
        // One cursor for all plots of the machine: hovering one shows the same moment on the others.
        cursor: { sync: { key: `machine-${id}` } },
        legend: { live: false },
        plugins: [markerPlugin(o.events)],
        hooks: {
          // The time range each plot really shows, for people comparing plots and for the page test.
          draw: [
            (u) => {
              box.dataset.xMin = String(u.scales.x.min);
              box.dataset.xMax = String(u.scales.x.max);
            },
          ],
        },
      },
      o.data,
      box,
    );
    plots.push(u);
    return u;
  };

  const load = async () => {
    try {
      const m = await api(`/api/v1/machines/${encodeURIComponent(id)}`);
      const to = m.lastSeenAt ? Date.parse(m.lastSeenAt) + 1 : Date.now();
      const ev = await api(`/api/v1/machines/${encodeURIComponent(id)}/events?limit=200`);
      const range = rangeOf(ev.items, to);
      el.querySelector('#m-span').textContent = `${new Date(range.from).toLocaleString()} – ${new Date(range.to).toLocaleString()}`;
      el.querySelector('#m-summary').innerHTML = summaryHtml(m);
      el.querySelector('#m-top').innerHTML = whyHtml(m);
      el.querySelector('#m-deviations').innerHTML = deviationsHtml(m);
      el.querySelector('#m-alerts').innerHTML = alertTable(m.alerts, { machineColumn: false });
      const [readings, scores, health] = await Promise.all([
        api(`/api/v1/machines/${encodeURIComponent(id)}/readings?from=${range.from}&to=${range.to}&points=600`),
        api(`/api/v1/machines/${encodeURIComponent(id)}/scores?from=${range.from}&to=${range.to}&limit=2000`),
        api(`/api/v1/machines/${encodeURIComponent(id)}/health?from=${range.from}&to=${range.to}&limit=2000`),
      ]);
      el.querySelector('#m-events').innerHTML = eventsHtml(ev.items.slice(0, 20));
      const marked = ev.items.filter((e) => MARKED.has(e.type));
      plots.splice(0).forEach((p) => p.destroy());
      drawRisk(el.querySelector('#m-risk'), scores.items, m.alertThreshold, range, marked);
      drawHealth(el.querySelector('#m-health'), health.items, m.health?.threshold ?? null, m.healthDetail, range, marked);
      drawSensors(el.querySelector('#m-sensors'), readings.points, m.sensors ?? {}, range, marked);
    } catch (err) {
      onError(err);
    }
  };

  const drawRisk = (box, items, threshold, range, events) => {
    box.innerHTML = '';
    box.dataset.threshold = threshold === null ? '' : String(threshold);
    if (!items.length) return (box.innerHTML = '<div class="empty">No scores in this range.</div>');
    // The range's ends carry no score, only the threshold: its line spans the whole plot.
    const times = [range.from / 1000, ...items.map((s) => Date.parse(s.dataTs) / 1000), range.to / 1000];
    const series = [{ label: 'p(failure)', stroke: '#c4161c', fill: 'rgba(196,22,28,.1)', width: 2 }];
    const data = [times, [null, ...items.map((s) => s.probability), null]];
    if (threshold !== null) {
      series.push({ label: `alert threshold ${pct(threshold)}`, stroke: '#b35c00', dash: [8, 5], width: 2, points: { show: false } });
      data.push(times.map(() => threshold));
    }
    plot(box, { range, series, data, events, height: 200, unit: 'p(failure)', y: { range: [0, 1] }, xAxis: true });
  };

  const drawHealth = (box, items, threshold, detail, range, events) => {
    box.innerHTML = '';
    box.dataset.threshold = threshold === null ? '' : String(threshold);
    if (!items.length)
      return (box.innerHTML = `<div class="empty">${esc(detail ? `No health index: ${detail}.` : 'No health index in this range.')}</div>`);
    const times = [range.from / 1000, ...items.map((s) => Date.parse(s.dataTs) / 1000), range.to / 1000];
    const series = [{ label: 'health index', stroke: '#1a7f37', fill: 'rgba(26,127,55,.08)', width: 2 }];
    const data = [times, [null, ...items.map((s) => s.index), null]];
    if (threshold !== null) {
      series.push({ label: `anomaly alert below ${threshold}`, stroke: '#b35c00', dash: [8, 5], width: 2, points: { show: false } });
      data.push(times.map(() => threshold));
    }
    plot(box, { range, series, data, events, height: 160, unit: 'health (100 = normal)', y: { range: [0, 100] }, xAxis: false });
  };

  const drawSensors = (box, points, described, range, events) => {
    box.innerHTML = '';
    const sensors = [...new Set(points.flatMap((p) => Object.keys(p.values)))].sort();
    if (!sensors.length) return (box.innerHTML = '<div class="plot empty">No readings in this range.</div>');
    const times = points.map((p) => Date.parse(p.ts) / 1000);
    // One small plot per sensor, all on the risk plot's time axis: units and scales differ too much to share a y axis.
    sensors.forEach((s, i) => {
      const cell = document.createElement('div');
      cell.className = 'plot sensor';
      cell.dataset.sensor = s;
      box.append(cell);
      const d = described[s] ?? {};
      if (d.unit) cell.dataset.unit = d.unit;
      plot(cell, {
        range,
        series: [{ label: s, stroke: COLOURS[i % COLOURS.length], width: 1.5 }],
        data: [times, points.map((p) => p.values[s] ?? null)],
        events,
        height: 110,
        unit: axisLabel(s, d),
        xAxis: i === sensors.length - 1,
      });
    });
  };

  el.querySelector('#m-event').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { machine: id, type: f.get('type') };
    if (f.get('component')) body.component = f.get('component');
    if (f.get('note')) body.note = f.get('note');
    try {
      const r = await api('/api/v1/events', { method: 'POST', body });
      el.querySelector('#m-event-msg').textContent = `recorded ${r.type} at ${r.ts} by ${r.recordedBy}`;
      e.target.reset();
      // The event goes through the journal to the store; show it once it is there.
      setTimeout(load, 1000);
    } catch (err) {
      el.querySelector('#m-event-msg').textContent =
        err.status === 401 || err.status === 403
          ? `Recording events needs an operator token${token.get() ? ' (this one is not)' : ''}: make one on the gateway with vigil token create --name <you> --role operator, add it under api.tokens, and paste it at the top right.`
          : err.message;
    }
  });
  load();
  const stop = every(load, 10_000);
  return () => (stop(), plots.forEach((p) => p.destroy()));
}

/** A sensor axis: its name, unit and engineering range when known ("T24 (°R, 500–700)"). */
function axisLabel(sensor, d) {
  const range = d.low !== undefined || d.high !== undefined ? `${d.low ?? '…'}–${d.high ?? '…'}` : '';
  const extra = [d.unit, range].filter(Boolean).join(', ');
  return extra ? `${sensor} (${extra})` : sensor;
}

function summaryHtml(m) {
  const stamped =
    m.lastReceivedAt && Math.abs(Date.parse(m.lastReceivedAt) - Date.parse(m.lastSeenAt)) > H
      ? ` (stamped ${esc(m.lastSeenAt.slice(0, 16).replace('T', ' '))})`
      : '';
  return `${esc(m.machine.site)} / ${esc(m.machine.line)}${m.kind ? ` · kind ${esc(m.kind.name)} (${m.kind.source === 'config' ? 'configured' : 'inferred from its sensors'})` : ''} · ${
    m.score
      ? `risk <b class="lvl-${level(m)}">${pct(m.score.probability)}</b> · remaining life ${hours(m.score.rulSeconds)} · model ${esc(m.score.model)}`
      : esc(m.detail ?? m.status.replaceAll('_', ' '))
  } · last reading received ${ago(m.lastReceivedAt ?? m.lastSeenAt)}${stamped}`;
}

function whyHtml(m) {
  if (!m.score) return '<div class="empty">No score yet.</div>';
  const up = (m.score.topSensors ?? []).filter((t) => t.contribution > 0);
  if (!up.length) return '<div class="empty">No sensor raises the risk now.</div>';
  const unit = (s) => (m.sensors?.[s]?.unit ? ` ${esc(m.sensors[s].unit)}` : '');
  return `<div class="table-wrap"><table><tr><th>sensor</th><th>raises p(failure) by</th><th>latest</th></tr>${up
    .map(
      (t) =>
        `<tr data-why="${esc(t.sensor)}"><td>${esc(t.sensor)}</td><td>+${(t.contribution * 100).toFixed(1)} pts</td><td>${m.latest[t.sensor]?.value?.toFixed?.(2) ?? '–'}${unit(t.sensor)}</td></tr>`,
    )
    .join('')}</table></div>`;
}

function eventsHtml(items) {
  if (!items.length) return '<div class="empty">No failures, maintenance or repairs recorded.</div>';
  return `<div class="table-wrap"><table><tr><th>when</th><th>type</th><th>component</th><th>note</th></tr>${items
    .map(
      (e) =>
        `<tr data-event="${esc(e.type)}"><td>${esc(new Date(e.ts).toLocaleString())}</td><td><span class="key key-${esc(e.type)}"></span>${esc(e.type)}</td><td>${esc(e.component ?? '')}</td><td>${esc(e.note ?? '')}</td></tr>`,
    )
    .join('')}</table></div>`;
}

/** The sensors the health model finds departing from normal: which way, how far in their spread and in their unit. */
function deviationsHtml(m) {
  if (!m.health) return `<div class="empty">${esc(m.healthDetail ?? 'No health index yet.')}</div>`;
  const ds = m.health.deviations;
  if (!ds.length) return '<div class="empty">Every sensor is within two standard deviations of what its normal behaviour predicts.</div>';
  const unit = (s) => (m.sensors?.[s]?.unit ? ` ${esc(m.sensors[s].unit)}` : '');
  return `<div class="table-wrap"><table><tr><th>sensor</th><th>departs from normal by</th><th>in its spread</th><th>latest</th></tr>${ds
    .map(
      (d) =>
        `<tr data-deviation="${esc(d.sensor)}"><td>${esc(d.sensor)}</td><td>${d.delta >= 0 ? '+' : '−'}${Math.abs(d.delta).toPrecision(3)}${unit(d.sensor)} (${d.delta >= 0 ? 'above' : 'below'})</td><td>${Math.abs(d.sigmas).toFixed(1)} σ</td><td>${m.latest[d.sensor]?.value?.toFixed?.(2) ?? '–'}${unit(d.sensor)}</td></tr>`,
    )
    .join('')}</table></div>`;
}
