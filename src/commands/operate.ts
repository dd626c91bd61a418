import { Command, Option } from 'commander';
import { createMqttPassword } from '../ingest/index.js';
import { createToken, type Status } from '../api/index.js';

interface ApiOptions {
  url: string;
  token?: string;
  json?: boolean;
}

/** A call to a running daemon's API; errors become one readable line with the API's code. */
async function call<T>(o: ApiOptions, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(new URL(route, o.url), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new Error(`cannot reach the Vigil API at ${o.url}: ${(err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${route}: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string } }).error;
    throw new Error(
      `${method} ${route}: ${e?.code ?? `HTTP ${res.status}`}: ${e?.message ?? text.slice(0, 200)}${tokenHint(res.status, o, method)}`,
    );
  }
  return parsed as T;
}

/** What to do about a refused token: where one comes from, and how to pass it. */
function tokenHint(status: number, o: ApiOptions, method: string): string {
  const role = method === 'GET' ? 'a viewer' : 'an operator';
  if (status === 401 && !o.token)
    return `\nThis needs ${role} token. Make one with \`vigil token create --name <you> --role ${method === 'GET' ? 'viewer' : 'operator'}\`, put the printed entry under api.tokens in the daemon's config (then restart it), and pass the token with --token <token> or VIGIL_TOKEN.`;
  if (status === 401) return '\nThe token given is not one the daemon knows (api.tokens in its config holds their hashes).';
  if (status === 403) return `\nThe token given may not do this: it needs ${role} token (or admin).`;
  return '';
}

function apiOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', 'daemon API base URL').env('VIGIL_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--token <token>', 'bearer token').env('VIGIL_TOKEN'))
    .option('--json', 'print the API answer as JSON');
}

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const pct = (p: number | null | undefined) => (p === null || p === undefined ? '–' : `${(p * 100).toFixed(0)}%`);

interface AlertJson {
  id: number;
  machine: { machine: string };
  kind: string;
  subject: string;
  severity: string;
  state: string;
  message: string;
  openedAt: string;
}

function alertLine(a: AlertJson): string {
  return `#${String(a.id).padEnd(5)} ${a.state.padEnd(12)} ${a.severity.padEnd(8)} ${a.machine.machine.padEnd(16)} ${a.kind}${a.subject ? `:${a.subject}` : ''}  ${a.message}  (opened ${a.openedAt})`;
}

/** `vigil status`, `vigil alerts …` (talk to a running daemon) and `vigil token create`. */
export function registerOperateCommands(program: Command): void {
  apiOptions(program.command('status').description("a running daemon's health, model, machines at risk and alerts")).action(
    async (o: ApiOptions) => {
      const s = await call<Status>(o, 'GET', '/api/v1/status');
      if (o.json) return print(JSON.stringify(s, null, 2));
      const machines = await call<{
        items: Array<{ machine: { machine: string }; status: string; score: { probability: number; rulSeconds: number } | null }>;
      }>(o, 'GET', '/api/v1/machines');
      print(
        `Vigil ${s.version}, up ${s.uptimeSeconds} s — broker ${s.broker.connected ? 'connected' : 'DISCONNECTED'}, store ${s.store.kind} ${s.store.state}, journal depth ${s.journal.depth}`,
      );
      print(
        `ingest: ${s.ingest.messagesAccepted} messages accepted, ${s.ingest.messagesRejected} rejected, ${s.ingest.readingsPerSecond.toFixed(0)} readings/s`,
      );
      print(
        `model: ${s.model.champion ?? 'none yet'}${s.model.champion ? ` (F1 ${s.model.f1?.toFixed(2)}, PR-AUC ${s.model.prAuc?.toFixed(2)}, RUL RMSE ${s.model.rulRmse?.toFixed(1)} steps)` : ''}; training ${s.training.running ? `run ${s.training.running.id} in progress` : 'idle'}, LSTM kernels ${kernelsText(s.training.kernels)}`,
      );
      print(
        `alerts: ${s.alerts.open} open, ${s.alerts.acknowledged} acknowledged; precision ${pct(s.alerts.quality.precision)}, recall ${pct(s.alerts.quality.recall)}; deliveries dead ${s.alerts.deliveries.dead}`,
      );
      for (const m of machines.items.slice(0, 10)) {
        print(
          `  ${m.machine.machine.padEnd(16)} ${m.score ? `risk ${pct(m.score.probability).padStart(4)}  RUL ${(m.score.rulSeconds / 3600).toFixed(1)} h` : m.status}`,
        );
      }
    },
  );

  const alerts = program.command('alerts').description("list, acknowledge and resolve a running daemon's alerts");
  apiOptions(alerts.command('list').description('newest first'))
    .addOption(new Option('--state <state>', 'filter').choices(['open', 'acknowledged', 'resolved', 'unresolved']).default('unresolved'))
    .option('--machine <id>', 'only this machine')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (o: ApiOptions & { state: string; machine?: string; limit: string }) => {
      const q = new URLSearchParams({ state: o.state, limit: o.limit, ...(o.machine ? { machine: o.machine } : {}) });
      const r = await call<{ items: AlertJson[] }>(o, 'GET', `/api/v1/alerts?${q.toString()}`);
      if (o.json) return print(JSON.stringify(r, null, 2));
      if (r.items.length === 0) return print(`no ${o.state} alerts`);
      r.items.forEach((a) => print(alertLine(a)));
    });
  for (const action of ['ack', 'resolve'] as const) {
    apiOptions(
      alerts
        .command(action)
        .description(action === 'ack' ? 'acknowledge: someone is on it' : 'resolve: the condition is dealt with')
        .argument('<id>', 'alert id'),
    )
      .option('--note <text>', 'what was found or done')
      .addOption(
        new Option(
          '--verdict <verdict>',
          'on an anomaly alert: normal (fine, the health model learns it), abnormal (a real problem, no failure), failure (records a failure)',
        ).choices(['normal', 'abnormal', 'failure']),
      )
      .action(async (id: string, o: ApiOptions & { note?: string; verdict?: string }) => {
        if (!/^\d+$/.test(id)) throw new Error(`alert id must be a number, got ${id}`);
        const body = { ...(o.note ? { note: o.note } : {}), ...(o.verdict ? { verdict: o.verdict } : {}) };
        const a = await call<AlertJson>(o, 'POST', `/api/v1/alerts/${id}/${action}`, body);
        print(o.json ? JSON.stringify(a, null, 2) : alertLine(a));
      });
  }

  program
    .command('token')
    .description('API tokens')
    .command('create')
    .description('make a random token; put the printed config entry under api.tokens and give the token to its holder')
    .requiredOption('--name <name>', 'who holds it')
    .addOption(new Option('--role <role>', 'what it may do').choices(['viewer', 'operator', 'admin']).default('operator'))
    .action((o: { name: string; role: string }) => {
      const { token, sha256 } = createToken();
      print(
        `token (shown once; Vigil stores only its hash):\n  ${token}\nconfig entry:\napi:\n  tokens:\n    - { name: ${JSON.stringify(o.name)}, role: ${o.role}, sha256: '${sha256}' }`,
      );
    });

  const collect = (v: string, all: string[]) => [...all, v];
  program
    .command('mqtt-user')
    .description('users of the embedded MQTT broker')
    .command('create')
    .description(
      'make a random password for a publisher of the embedded broker; put the printed entry under mqtt.embedded.users and give the password to the client',
    )
    .requiredOption('--name <name>', 'the user name the client logs in with')
    .option('--publish <filter>', 'a topic filter the user may publish to (repeatable); without: any topic but Vigil’s output', collect, [])
    .option('--subscribe <filter>', 'a topic filter the user may subscribe to (repeatable); without: any', collect, [])
    .action(async (o: { name: string; publish: string[]; subscribe: string[] }) => {
      if (o.name.startsWith('$')) throw new Error('a user name must not start with $ (reserved for Vigil itself)');
      const { password, hash } = await createMqttPassword();
      const lists = [
        o.publish.length ? `, publish: ${JSON.stringify(o.publish)}` : '',
        o.subscribe.length ? `, subscribe: ${JSON.stringify(o.subscribe)}` : '',
      ].join('');
      print(
        `password (shown once; Vigil stores only its scrypt hash):\n  ${password}\nconfig entry:\nmqtt:\n  embedded:\n    users:\n      - { username: ${JSON.stringify(o.name)}, passwordHash: '${hash}'${lists} }`,
      );
    });
}

/** e.g. "native (avx512)", "wasm (native kernels unavailable: …)", "checking". */
function kernelsText(k: { uses: string | null; native: string | null; reason: string | null }): string {
  if (!k.uses) return k.reason ? `none (${k.reason})` : 'checking';
  if (k.uses === 'native') return `native (${k.native})`;
  return k.reason ? `${k.uses} (${k.reason})` : k.uses;
}
