// pngstat.mjs FILE.png: decode a PNG with Node's own zlib (no packages)
// and print "width height pixels nonwhite colours", so a test can tell a
// rendered page from a blank one.  Handles 8-bit greyscale, grey+alpha,
// RGB, RGBA and palette images, non-interlaced (what Chromium writes).
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';

const buf = readFileSync(process.argv[2]);
const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
if (buf.length < 8 || !buf.subarray(0, 8).equals(SIG)) {
  console.error('not a PNG');
  process.exit(1);
}

let off = 8, width = 0, height = 0, depth = 0, ctype = 0, interlace = 0;
let palette = null;
const idat = [];
while (off + 8 <= buf.length) {
  const len = buf.readUInt32BE(off);
  const type = buf.toString('latin1', off + 4, off + 8);
  const data = buf.subarray(off + 8, off + 8 + len);
  if (type === 'IHDR') {
    width = data.readUInt32BE(0);
    height = data.readUInt32BE(4);
    depth = data[8];
    ctype = data[9];
    interlace = data[12];
  } else if (type === 'PLTE') {
    palette = data;
  } else if (type === 'IDAT') {
    idat.push(data);
  } else if (type === 'IEND') {
    break;
  }
  off += 12 + len;
}
const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[ctype];
if (depth !== 8 || channels === undefined || interlace !== 0) {
  console.error(`unsupported PNG: depth ${depth} colour type ${ctype} interlace ${interlace}`);
  process.exit(1);
}

const raw = inflateSync(Buffer.concat(idat));
const bpp = channels, stride = width * bpp;
if (raw.length < height * (stride + 1)) {
  console.error('truncated image data');
  process.exit(1);
}
const img = Buffer.alloc(height * stride);
function paeth(a, b, c) {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
for (let y = 0; y < height; y++) {
  const f = raw[y * (stride + 1)];
  const src = y * (stride + 1) + 1, dst = y * stride, prev = dst - stride;
  for (let x = 0; x < stride; x++) {
    const a = x >= bpp ? img[dst + x - bpp] : 0;
    const b = y > 0 ? img[prev + x] : 0;
    const c = x >= bpp && y > 0 ? img[prev + x - bpp] : 0;
    let v = raw[src + x];
    switch (f) {
      case 0: break;
      case 1: v += a; break;
      case 2: v += b; break;
      case 3: v += (a + b) >> 1; break;
      case 4: v += paeth(a, b, c); break;
      default:
        console.error(`bad filter ${f} on row ${y}`);
        process.exit(1);
    }
    img[dst + x] = v & 0xff;
  }
}

let nonwhite = 0;
const colours = new Set();
for (let i = 0; i < width * height; i++) {
  const p = i * bpp;
  let r, g, b;
  if (ctype === 3) {
    const k = img[p] * 3;
    r = palette[k]; g = palette[k + 1]; b = palette[k + 2];
  } else if (ctype === 0 || ctype === 4) {
    r = g = b = img[p];
  } else {
    r = img[p]; g = img[p + 1]; b = img[p + 2];
  }
  if (r !== 255 || g !== 255 || b !== 255)
    nonwhite++;
  colours.add((r << 16) | (g << 8) | b);
}
console.log(`${width} ${height} ${width * height} ${nonwhite} ${colours.size}`);
