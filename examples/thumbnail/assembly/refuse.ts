// Refusing the input: one line on fd 2 saying what is wrong, then exit code 2.
import { EXIT_BAD_INPUT, exit, stderr } from "../../lib/io";

export function refuseText(text: string): void {
  refuse(text, "", "");
}

/** Writes "thumbnail: " and the three texts as one line on fd 2, and exits with code 2. */
export function refuse(a: string, b: string, c: string): void {
  const log = stderr();
  log.text("thumbnail: ");
  log.text(a);
  log.text(b);
  log.text(c);
  log.byte(10);
  exit(EXIT_BAD_INPUT);
}

/** The samples stop before width × height × channels bytes. */
export function refuseTruncated(got: u64, expected: u64): void {
  const log = stderr();
  log.text("thumbnail: the image data ends early: ");
  log.decimal(got);
  log.text(" of ");
  log.decimal(expected);
  log.text(" bytes");
  log.byte(10);
  exit(EXIT_BAD_INPUT);
}
