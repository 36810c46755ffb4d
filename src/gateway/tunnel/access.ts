/**
 * Who may use an exposed tunnel (docs/tunnels.md §4): a device is let in when it is a
 * certified, unrevoked device of a person the tunnel allows: the exposer's own person, the
 * persons named, and the current members of the groups named. Judged against the identity
 * layer's directories each time it is asked, so a revocation or a removal from a group counts
 * from the next check on. Pure over the book it is given.
 */
export interface DeviceBook {
  /** Whether `device` speaks for `person` now: the person's root, or a device certified and not revoked. */
  isActiveDevice(person: string, device: string): boolean;
  /** The persons that are members of `group` now (none when this gateway does not know the group). */
  groupMembers(group: string): readonly string[];
}

export interface Allowance {
  /** Persons (identity texts), the exposer's own first. */
  readonly persons: readonly string[];
  /** Group ids. */
  readonly groups: readonly string[];
}

/** Every person the allowance names now, without repeats. */
export function allowedPersons(allow: Allowance, book: DeviceBook): string[] {
  const persons = new Set(allow.persons);
  for (const group of allow.groups)
    for (const member of book.groupMembers(group)) persons.add(member);
  return [...persons];
}

/** The allowed person `device` acts for, or undefined when it acts for none of them. */
export function allowedPersonOf(
  device: string,
  allow: Allowance,
  book: DeviceBook,
): string | undefined {
  return allowedPersons(allow, book).find((person) => book.isActiveDevice(person, device));
}
