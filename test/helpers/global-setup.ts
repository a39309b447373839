import type { TestProject } from 'vitest/node';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres.js';

/** One private PostgreSQL cluster for the whole test run; each test file makes its own databases. */
let cluster: PostgresCluster | undefined;

export async function setup(project: TestProject): Promise<void> {
  cluster = await startPostgresCluster();
  project.provide('pg', {
    host: cluster.host,
    port: cluster.port,
    adminUser: cluster.adminUser,
    adminPassword: cluster.adminPassword,
  });
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    pg: { host: string; port: number; adminUser: string; adminPassword: string };
  }
}
