/** `VIGIL_*` environment variables and the config keys they override. */
export interface EnvBinding {
  env: string;
  path: string[];
  kind: 'string' | 'integer' | 'list' | 'boolean';
  help: string;
}

export const ENV_BINDINGS: EnvBinding[] = [
  { env: 'VIGIL_DATA_DIR', path: ['dataDir'], kind: 'string', help: 'data directory (journal, SQLite)' },
  { env: 'VIGIL_LOG_LEVEL', path: ['log', 'level'], kind: 'string', help: 'log level' },
  { env: 'VIGIL_MQTT_URL', path: ['mqtt', 'url'], kind: 'string', help: 'external broker URL; unset = embedded broker' },
  { env: 'VIGIL_MQTT_HOST', path: ['mqtt', 'embedded', 'host'], kind: 'string', help: 'embedded broker bind address' },
  { env: 'VIGIL_MQTT_PORT', path: ['mqtt', 'embedded', 'port'], kind: 'integer', help: 'embedded broker port' },
  {
    env: 'VIGIL_MQTT_ALLOW_ANONYMOUS',
    path: ['mqtt', 'embedded', 'allowAnonymous'],
    kind: 'boolean',
    help: 'embedded broker: take clients without a user name (loopback only)',
  },
  { env: 'VIGIL_MQTT_CLIENT_ID', path: ['mqtt', 'clientId'], kind: 'string', help: 'fixed MQTT client id (persistent session)' },
  { env: 'VIGIL_MQTT_USERNAME', path: ['mqtt', 'username'], kind: 'string', help: 'broker user' },
  { env: 'VIGIL_MQTT_PASSWORD', path: ['mqtt', 'password'], kind: 'string', help: 'broker password' },
  { env: 'VIGIL_HTTP_HOST', path: ['http', 'host'], kind: 'string', help: 'HTTP bind address' },
  { env: 'VIGIL_HTTP_PORT', path: ['http', 'port'], kind: 'integer', help: 'HTTP port' },
  { env: 'VIGIL_STORE', path: ['store', 'kind'], kind: 'string', help: 'sqlite | influx' },
  {
    env: 'VIGIL_INFLUX_URL',
    path: ['store', 'influx', 'url'],
    kind: 'string',
    help: 'InfluxDB URL; selects the influx store unless VIGIL_STORE is set',
  },
  { env: 'VIGIL_INFLUX_DATABASE', path: ['store', 'influx', 'database'], kind: 'string', help: 'InfluxDB database' },
  { env: 'VIGIL_INFLUX_USERNAME', path: ['store', 'influx', 'username'], kind: 'string', help: 'InfluxDB user' },
  { env: 'VIGIL_INFLUX_PASSWORD', path: ['store', 'influx', 'password'], kind: 'string', help: 'InfluxDB password' },
  { env: 'VIGIL_JOURNAL_MAX_BYTES', path: ['journal', 'maxBytes'], kind: 'string', help: 'journal disk cap (backpressure above it)' },
  { env: 'VIGIL_FEDERATION_KEY', path: ['federation', 'key'], kind: 'string', help: 'signing key of the federation' },
  { env: 'VIGIL_FEDERATION_PASSWORD', path: ['federation', 'broker', 'password'], kind: 'string', help: 'federation broker password' },
  { env: 'VIGIL_MODELS_DIR', path: ['learning', 'modelsDir'], kind: 'string', help: 'model registry directory' },
  { env: 'VIGIL_TF_BACKEND', path: ['learning', 'backend'], kind: 'string', help: 'auto | tfjs-node-gpu | tfjs-node | wasm | cpu' },
  { env: 'VIGIL_ALLOW_MACHINES', path: ['ingest', 'allowMachines'], kind: 'list', help: 'comma-separated machine allow-list' },
];

export function envValue(binding: EnvBinding, raw: string): unknown {
  if (binding.kind === 'integer') {
    // A non-numeric string is passed through so the schema reports it against the key.
    return /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw;
  }
  if (binding.kind === 'boolean') return /^\s*(true|1|yes)\s*$/i.test(raw) ? true : /^\s*(false|0|no)\s*$/i.test(raw) ? false : raw;
  if (binding.kind === 'list')
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  return raw;
}
