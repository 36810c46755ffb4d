// Words are bytes: any byte from 0x80 up belongs to a word, so that UTF-8 words stay whole, but
// notes are not always valid UTF-8. The JSON output must be, so a word is written with every
// ill-formed sequence replaced by U+FFFD, one for each maximal subpart (the WHATWG Encoding
// Standard's decoder, which TextDecoder follows): valid text passes through unchanged.
import { Sink } from "../../lib/io";

function replacement(out: Sink): void {
  out.byte(0xef);
  out.byte(0xbf);
  out.byte(0xbd);
}

/** Writes the `length` bytes at `ptr` to `out` as well-formed UTF-8. */
export function writeWellFormed(out: Sink, ptr: usize, length: usize): void {
  let i: usize = 0;
  while (i < length) {
    const lead = <u32>load<u8>(ptr + i);
    if (lead < 0x80) {
      out.byte(lead);
      i++;
      continue;
    }
    // How many continuation bytes the lead byte asks for, and the range of the first one
    // (narrower after E0, ED, F0 and F4: no overlong forms, no surrogates, nothing past U+10FFFF).
    let needed: usize = 0;
    let lower: u32 = 0x80;
    let upper: u32 = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      needed = 1;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      needed = 2;
      if (lead == 0xe0) lower = 0xa0;
      if (lead == 0xed) upper = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      needed = 3;
      if (lead == 0xf0) lower = 0x90;
      if (lead == 0xf4) upper = 0x8f;
    } else {
      replacement(out);
      i++;
      continue;
    }
    let seen: usize = 0;
    while (seen < needed && i + 1 + seen < length) {
      const b = <u32>load<u8>(ptr + i + 1 + seen);
      if (b < lower || b > upper) break;
      lower = 0x80;
      upper = 0xbf;
      seen++;
    }
    if (seen == needed) {
      out.bytes(ptr + i, needed + 1);
    } else {
      replacement(out);
    }
    i += 1 + seen;
  }
}
