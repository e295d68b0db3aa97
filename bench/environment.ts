import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem, release } from 'node:os';

export interface EnvironmentFacts {
  cpuModel: string;
  cores: number;
  ramGb: number;
  os: string;
  node: string;
  versions: Record<string, string>;
}

const require = createRequire(import.meta.url);

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed'; // a missing optional package is a fact for the report, not an error
  }
}

/** The machine and the versions of everything measured. */
export function environmentFacts(): EnvironmentFacts {
  const library = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  const packages = ['@mikro-orm/core', '@mikro-orm/postgresql', '@mikro-orm/nestjs', '@nestjs/core', '@nestjs/platform-express', '@nestjs/platform-fastify', 'pg', 'autocannon'];
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    ramGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${process.platform} ${release()}`,
    node: process.version,
    versions: { [library.name]: library.version, ...Object.fromEntries(packages.map((p) => [p, versionOf(p)])) },
  };
}
