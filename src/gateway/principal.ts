import type { Scope } from '../domain/catalog.js';
import type { ModelMeta } from '../domain/model-metadata.js';
import type { Operation } from '../contract/operations.js';

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
  /** Inference calls the workspace may have in flight at once (its plan's). */
  maxConcurrent: number;
  /** The workspace's share of the backend when calls wait (its plan's; fair-queue.ts). */
  weight: number;
}

/** The credits reserved for this request (see guard.ts: they are concluded with the response). */
export interface Meter {
  credits: number;
  /** The client has been served: charge the reservation now (a stream's first token). */
  served(): void;
  /** The call did no metered work (see `waive` in guard.ts): release the reservation now. */
  waive(): void;
}

/** What an inference call cost the backend: tokens read (the prompt) and written. */
export interface TokensServed {
  input: number;
  output: number;
}

declare module 'express-serve-static-core' {
  interface Locals {
    requestId: string;
    principal?: Principal;
    meter?: Meter;
    /** Credits charged by this request, for the access log. */
    charged?: number;
    /** The contract operation this request is (set by the guard on every authenticated surface). */
    operation?: Operation;
    /** The operator's settings of the model an inference call names (checked by the guard). */
    model?: ModelMeta;
    /** The response is a stream, charged at its first token rather than when it finishes. */
    streaming?: boolean;
    /** Tokens an inference call has been served so far (tokensServed in guard.ts). */
    tokens?: TokensServed;
  }
}
