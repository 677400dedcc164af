// node-llama-cpp lists prebuilt binaries for every platform as optional dependencies. The
// registry this project installs from serves only the Linux ones, so npm leaves the others out
// of package-lock.json and `npm ci` then refuses the lock as out of sync. This records each
// missing one as an optional entry restricted to its own platform, which npm skips here.
// Run after `npm install` changes the lock: node scripts/lock-missing-optionals.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const platforms = {
  'linux-riscv64': { os: ['linux'], cpu: ['riscv64'] },
  'mac-arm64-metal': { os: ['darwin'], cpu: ['arm64'] },
  'mac-x64': { os: ['darwin'], cpu: ['x64'] },
  'win-arm64': { os: ['win32'], cpu: ['arm64'] },
  'win-x64': { os: ['win32'], cpu: ['x64'] },
  'win-x64-cuda': { os: ['win32'], cpu: ['x64'] },
  'win-x64-cuda-ext': { os: ['win32'], cpu: ['x64'] },
  'win-x64-vulkan': { os: ['win32'], cpu: ['x64'] },
};
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const nlc = lock.packages['node_modules/node-llama-cpp'];
let added = 0;
for (const [dep, version] of Object.entries(nlc.optionalDependencies ?? {})) {
  const key = `node_modules/${dep}`;
  const platform = platforms[dep.replace('@node-llama-cpp/', '')];
  if (lock.packages[key] || !platform) continue;
  lock.packages[key] = { version, ...platform, license: 'MIT', optional: true, engines: { node: '>=20.0.0' } };
  added++;
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log(`added ${added} platform-restricted optional entries`);
