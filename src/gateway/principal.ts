import type { Scope } from '../domain/catalog.js';

/** Who is calling: the verified key, its workspace and plan, resolved once per request. */
export interface Principal {
  keyId: string;
  keyName: string;
  workspaceId: string;
  workspaceName: string;
  planId: string;
  planTitle: string;
  /** The key's scopes that its workspace's plan still grants. */
  scopes: readonly Scope[];
  rpm: number;
}

/** Settles or refunds the credits reserved for this request. */
export interface Meter {
  credits: number;
  settle(): void;
  release(): void;
}

declare module 'express-serve-static-core' {
  interface Locals {
    requestId: string;
    principal?: Principal;
    meter?: Meter;
    /** Credits charged by this request, for the access log. */
    charged?: number;
    /** Where the router that handles this request is mounted (/api/v1), for the access log. */
    mount?: string;
  }
}
