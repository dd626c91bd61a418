/** The late-failure grace of a machine: one for all, or its kind's (its recipe's horizon). */
export type Grace = number | ((machine: string) => number);

export function graceOf(grace: Grace, machine: string): number {
  return typeof grace === 'number' ? grace : grace(machine);
}
