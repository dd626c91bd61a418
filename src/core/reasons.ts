/**
 * Why a message, a reading or a value was refused. Each reason has its own counter and shows in
 * status and the dead-letter log, so an integrator can tell a clock problem from a payload bug.
 */
export const REJECT_REASONS = {
  payload_too_large: 'payload exceeds ingest.maxPayloadBytes',
  bad_encoding: 'payload is not UTF-8 text',
  bad_json: 'payload is not valid JSON',
  bad_shape: 'payload is not an object (or array of objects) of the documented shape',
  unknown_field: 'payload has a field the contract does not define',
  missing_ts: 'reading has no timestamp',
  bad_ts: 'timestamp is not epoch milliseconds or ISO-8601 with a time zone',
  ts_in_future: 'timestamp is further in the future than ingest.maxFutureSkew',
  ts_too_old: 'timestamp is older than ingest.maxAge',
  missing_values: 'reading has no sensor values',
  bad_sensor_name:
    'sensor name is empty, too long, reserved (time, site, line, machine, __proto__) or has characters outside [A-Za-z0-9_.:-]',
  non_numeric_value: 'sensor value is not a number',
  non_finite_value: 'sensor value is NaN or infinite',
  bad_event_type: 'event type is not failure, maintenance, repair or note',
  bad_event_field: 'event component/note is not a string of allowed length',
  bad_line_protocol: 'line protocol line cannot be parsed',
  bad_topic: 'topic does not match a configured pattern, or a level has invalid characters',
  unknown_machine: 'machine is not in ingest.allowMachines',
  too_many_items: 'message holds more readings or sensors than allowed',
  machine_limit: 'machine is beyond ingest.maxMachines: its readings are stored, but it is not scored or watched for data quality',
  bad_sparkplug: 'payload on a spBv1.0 topic is not a Sparkplug B protobuf message, or the topic is not a Sparkplug one',
  sparkplug_unknown_alias: 'Sparkplug metric has only an alias that no BIRTH since Vigil started declared (a rebirth is requested)',
  sparkplug_unsupported_type: 'Sparkplug metric is a string, dataset, template, bytes or another type that is not a number or boolean',
  internal_error: 'the decoder failed unexpectedly on this message (a bug: please report it with the dead letter)',
} as const;

export type RejectReason = keyof typeof REJECT_REASONS;

export interface Rejection {
  reason: RejectReason;
  /** What exactly was wrong, for the dead-letter log, e.g. `values.temp: "hot" is not a number`. */
  detail: string;
}
