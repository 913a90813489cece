#!/usr/bin/env node
// Adds lock entries for platform-specific optional packages that the package registry mirror
// here does not serve (e.g. @biomejs/cli-darwin-arm64). npm leaves them out of package-lock.json
// when it cannot fetch them, and `npm ci` then rejects the lock as out of sync. Each added entry
// carries the os/cpu/libc its name implies, so npm skips it on every other platform.
// Run after changing dependencies: `node scripts/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openbsd', 'netbsd', 'sunos', 'aix', 'openharmony', 'cygwin'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'loong64', 'mips64el', 'ppc64', 'riscv64', 's390x', 'wasm32'];

/** `cli-linux-x64-musl` → { os: ['linux'], cpu: ['x64'], libc: ['musl'] } */
function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p) || p === 'win32');
  let cpu = parts.find((p) => CPU.includes(p));
  if (!cpu && parts.includes('eabi')) cpu = 'arm';
  if (!cpu && parts.includes('gnueabihf')) cpu = 'arm';
  if (!cpu && parts.includes('musleabihf')) cpu = 'arm';
  if (!cpu && parts.includes('ppc64')) cpu = 'ppc64';
  const libc = parts.some((p) => p.startsWith('musl')) ? 'musl' : parts.some((p) => p.startsWith('gnu')) ? 'glibc' : undefined;
  const out = {};
  if (os) out.os = [os === 'windows' ? 'win32' : os];
  if (cpu) out.cpu = [cpu];
  if (libc) out.libc = [libc];
  return out;
}

let added = 0;
for (const [path, meta] of Object.entries(packages)) {
  for (const [dep, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const where = path ? `${path}/node_modules/${dep}` : `node_modules/${dep}`;
    if (packages[where] || packages[`node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform.os && !platform.cpu) continue; // not a platform binary: leave it to npm
    packages[`node_modules/${dep}`] = { version: range.replace(/^[\^~=]/, ''), optional: true, ...platform };
    added++;
  }
}
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform entries`);
