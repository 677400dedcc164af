import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { cgroupCpuQuota, detectCpuThreads } from '../../src/engine/runtime/threads.js';

const files = (map: Record<string, string>) => (path: string) => {
  const v = map[path];
  if (v === undefined) throw new Error('ENOENT');
  return v;
};

test('cgroup v2 cpu.max quota, v1 cfs quota, or none', () => {
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' })), 1.5);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), undefined);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), 2);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), undefined);
  assert.equal(cgroupCpuQuota(files({})), undefined);
});

test('threads: the CPU count capped by the quota, at least 1', () => {
  const cpus = availableParallelism();
  assert.equal(detectCpuThreads(files({})), cpus);
  assert.equal(detectCpuThreads(files({ '/sys/fs/cgroup/cpu.max': '50000 100000' })), 1);
  assert.equal(detectCpuThreads(files({ '/sys/fs/cgroup/cpu.max': `${(cpus + 8) * 100000} 100000` })), cpus);
});
