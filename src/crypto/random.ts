import sodium from 'sodium-native';

export function randomBytes(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  sodium.randombytes_buf(out);
  return out;
}
