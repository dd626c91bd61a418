// The alerts table of the Alerts view and of a machine's view.
import { ago, esc } from './format.js';

const clock = (iso) => new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** Escalation steps taken, for the state column: "escalated 14:05 → critical, told webhook:oncall". */
const escalations = (a) =>
  (a.escalations ?? [])
    .map(
      (e) =>
        `<div class="meta escalated" data-escalation="${esc(e.step)}">escalated ${esc(clock(e.at))}${e.raisedTo ? ` → ${esc(e.raisedTo)}` : ''}${e.channels.length ? `, told ${esc(e.channels.join(', '))}` : ''}</div>`,
    )
    .join('');

/**
 * `actions`: Acknowledge/Resolve buttons; `machineColumn`: false on a machine's own view. The table
 * scrolls inside its box rather than widening the page.
 */
export function alertTable(alerts, { actions = false, machineColumn = true } = {}) {
  if (!alerts.length) return '<div class="empty">No alerts.</div>';
  const head = `<tr><th>#</th>${machineColumn ? '<th>machine</th>' : ''}<th>kind</th><th>severity</th><th>state</th><th>message</th><th>opened</th>${actions ? '<th></th>' : ''}</tr>`;
  const rows = alerts
    .map(
      (a) => `<tr class="sev-${a.severity}" data-alert="${a.id}" data-state="${a.state}"><td>${a.id}</td>${
        machineColumn ? `<td><a href="#/machine/${encodeURIComponent(a.machine.machine)}">${esc(a.machine.machine)}</a></td>` : ''
      }<td>${esc(a.kind.replaceAll('_', ' '))}${a.subject ? `: ${esc(a.subject)}` : ''}</td>
      <td>${esc(a.severity)}</td><td class="state">${esc(a.state)}${a.acknowledged ? `<div class="meta">by ${esc(a.acknowledged.by)}</div>` : ''}${a.resolved ? `<div class="meta">${esc(a.resolved.resolution)}${a.outcome ? `, ${esc(a.outcome.replace('_', ' '))}` : ''}</div>` : ''}${escalations(a)}</td>
      <td class="message">${esc(a.message)}</td><td class="opened" title="${esc(a.openedAt)}">${ago(a.openedAt)}</td>
      ${actions ? `<td class="actions">${a.state === 'open' ? `<button data-act="ack" data-id="${a.id}">Acknowledge</button> ` : ''}${a.state !== 'resolved' ? `<button class="secondary" data-act="resolve" data-id="${a.id}">Resolve</button>` : ''}</td>` : ''}</tr>`,
    )
    .join('');
  return `<div class="table-wrap"><table class="alerts">${head}${rows}</table></div>`;
}
