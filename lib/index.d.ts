/** One OpenCode message as `client.session.messages()` returns it. */
export interface OpenCodeMessage {
  info: { id: string; sessionID: string; role: 'user' | 'assistant' | string; [key: string]: unknown };
  parts: Array<{ type: string; [key: string]: unknown }>;
}

/** A subagent session started by a `task` tool call of its parent. */
export interface ChildSession {
  sessionID: string;
  parentSessionID: string;
  parentCallID?: string;
  /** The child's `client.session.get()` result. */
  info: { id: string; parentID?: string; [key: string]: unknown };
  messages: OpenCodeMessage[];
}

export interface ReconcilePayload {
  /** "reconcile" on a completed assistant message, "close" on session.idle. */
  type: 'reconcile' | 'close';
  /**
   * With "close": no OpenCode process is working on this session any more (it was killed, or
   * quit before session.idle was handled). Its last turn is closed as it stands: a model call
   * that never completed becomes an LLM span with ERROR "interrupted", ending at the last time
   * OpenCode recorded, and the Turn is sent.
   */
  abandoned?: boolean;
  /** With `abandoned`: when the OpenCode that worked on the session was last seen alive (ms);
   * a call or tool cut off then ends there rather than at the last time OpenCode recorded. */
  stoppedAt?: number;
  sessionID: string;
  /** The whole session, or any tail of it (oldest first), e.g. from the last watermark on. */
  messages: OpenCodeMessage[];
  childSessions?: ChildSession[];
  /** The session's own info (`client.session.get()`), for the Turn's context: title, version. */
  session?: { id: string; title?: string; version?: string; directory?: string; [key: string]: unknown };
  /** What the caller read about the session's surroundings, for the Turn's context. */
  context?: {
    opencodeVersion?: string;
    directory?: string;
    /** The directory's repository; credentials in the remote's URL are stripped by the core. */
    git?: { remote?: string; branch?: string; commit?: string };
  };
  /** How many turns the session had before `messages[0]`, when known (the Turn's turn_number);
   * 0 for a whole session. */
  turnsBefore?: number;
  /** The user message that opened the last turn before `messages[0]`, when known. */
  previousTurn?: string;
  /**
   * OpenCode's live signals for these sessions (the plugin's hooks and events: system prompt,
   * invocation parameters, tools offered, retries, permissions, slash command, errors stored on
   * no message, tool definitions), kept by the core until their spans are built. Shape:
   * native/live.h. Absent for backfill and the start-up sweep, which see stored messages only.
   */
  live?: LiveSignals;
}

export interface LiveSignals {
  sessions: Record<
    string,
    {
      calls?: {
        at: number;
        user?: string;
        agent?: string;
        system?: string;
        systemSame?: boolean;
        params?: Record<string, unknown>;
        tools?: string[];
      }[];
      permissions?: {
        id: string;
        type?: string;
        patterns?: string[];
        message?: string;
        call?: string;
        asked?: number;
        replied?: number;
        reply?: string;
      }[];
      retries?: { at: number; attempt?: number; message?: string; next?: number }[];
      errors?: { at: number; name: string; message?: string }[];
      commands?: { at: number; name: string; arguments?: string }[];
    }
  >;
  tools?: { id: string; description: string; parameters: Record<string, unknown> }[];
}

/**
 * How much of the session the next payload must show (the core's session model answers it
 * after each valid payload that holds messages).
 */
export interface Watermark {
  /**
   * The oldest message that can still produce spans: the user message of the oldest turn whose
   * Turn span is not sent (or of a turn the payload showed only the end of), else the payload's
   * last message. Older messages are done: fetch from here (OpenCode's `limit`/`before`);
   * `reconcile()` cuts a later whole snapshot of the session here by itself.
   */
  messageID: string;
  /** Child sessions the next payload must carry; `null`: all of them. The others are done. */
  children: string[] | null;
  /** Those of `children` that can still produce spans: fetch them again (the others may be
   * passed as last fetched). `null`: all of them. */
  openChildren: string[] | null;
}

export interface ReconcileResult {
  /** New spans queued. */
  spans: number;
  /** Of which Turn spans (with `{turns: true}` only). */
  turns?: number;
  /** Why the payload was rejected (nothing queued). */
  error?: string;
  /** Child sessions left out for want of a task call that names them. */
  childrenUnlinked?: number;
  /** Where the open part of the session starts; absent for a rejected or empty payload. */
  watermark?: Watermark;
}

export interface FlushResult {
  exported: number;
  pending: number;
  dropped: number;
}

export interface Status {
  version: string;
  enabled: boolean;
  state: 'sending' | 'no-backend' | 'disabled' | 'dry-run';
  reason: string | null;
  /** target: a backend row's name (lib/settings.json "backends": arize, phoenix, otlp, ...) or 'none' */
  backend: { target: string; endpoint: string | null; project: string };
  config: {
    path: string;
    warning: string | null;
    /** the file is there but none of it is used (unreadable, a directory, invalid YAML or JSON, not UTF-8); `warning` says where */
    broken: boolean;
    log_file: string;
    logging: { prompts: boolean; tool_details: boolean; tool_content: boolean };
    user_id_set: boolean;
    /** limits.recover_hours (ARIZE_RECOVER_HOURS): the start-up sweep's window, 0 = off */ recover_hours: number;
  };
  counters: {
    payloads: number;
    rejected_payloads: number;
    /** malformed messages, parts, numbers or child sessions left out (each logged once, by id) */
    items_skipped: number;
    /** numbers beyond the range of a double, read as null (an item that needs one is skipped and counted above) */
    numbers_unreadable: number;
    spans_queued: number;
    spans_exported: number;
    /** spans_dropped counts every span given up on; _full and _old are the spool's share of it. */
    spans_dropped: number;
    spans_pending: number;
    spans_restored: number;
    /** Spans handed over that no spool file holds yet (disk trouble keeps them here). */
    spans_memory_only: number;
    spans_dropped_full: number;
    spans_dropped_old: number;
    /** Dry run: spans built and discarded, never sent. */
    spans_discarded: number;
    /** Spans another process (or an earlier run's spool) already stored: left out, never sent twice. */
    spans_deduplicated: number;
    /** Spans lost to damaged spool records (each logged with its count). */
    spans_damaged: number;
    requests: number;
    failed_requests: number;
    retries: number;
    /** OpenCode's live signals the core holds until their spans are built (sessions, bytes) */
    live_sessions: number;
    live_bytes: number;
  };
  /**
   * key_refused: the backend answered 401/403; moved: a redirect that is not followed (error
   * names the new location); in both, spans wait in the spool for a new config. class: what
   * the last answer means (a name of export_outcomes), kept: whether its spans stay.
   */
  last_export: {
    status: number;
    error: string | null;
    at_ms: number;
    key_refused: boolean;
    moved: boolean;
    class?: string;
    kept?: boolean;
  };
  /** What each kind of backend answer does to the spans: the core's one table (docs/durability.md). */
  export_outcomes: {
    classes: { name: string; answers: string; effect: string; keeps: boolean; statuses: [number, number][] }[];
    followed: string;
  };
  last_rejection: string | null;
  /** Unsent spans wait here (across restarts) until the backend takes them. */
  spool: {
    dir: string;
    pending_bytes: number;
    writable: boolean;
    fsync: boolean;
    max_age_days: number;
    /** The writer thread is still loading what earlier processes left (never OpenCode's thread). */
    loading: boolean;
    /** Spool files of another version (a newer format or kind), left untouched for it. */
    foreign_files: number;
  };
  /** Keys of the config file that are not ours to read, each with the closest known key; null when none. */
  unknown_keys: string | null;
  /** How long exit waits for the backend (export.exit_flush_ms, ARIZE_EXIT_FLUSH_MS). */
  exit_flush_ms: number;
  /** Secret redaction in effect: the built-in detectors (redact.secrets, ARIZE_REDACT_SECRETS)
   * and how many user rules of each list passed their checks. */
  redaction: { secrets: boolean; patterns: number; values: number; allow: number };
  /**
   * Every destination in use (docs/destinations.md): the first ("default", the single-backend
   * settings) when configured, then harnesses.opencode.destinations. counters and last_export
   * above are the first's. paused: a refused key or a moved endpoint waits for a new config.
   * Never a credential.
   */
  destinations: {
    name: string;
    /** a backend row's name, or 'none' */
    target: string;
    endpoint: string | null;
    project: string;
    from: 'user' | 'project';
    pending: number;
    exported: number;
    dropped: number;
    requests: number;
    failed_requests: number;
    status: number;
    error: string | null;
    at_ms: number;
    key_refused: boolean;
    moved: boolean;
    paused: boolean;
    class?: string;
    kept?: boolean;
  }[];
  /** The native file that was loaded. */
  binary: string;
}

export function reconcile(payload: ReconcilePayload | string, options?: { turns?: boolean }): ReconcileResult;
export function flush(timeoutMs?: number): Promise<FlushResult>;
/** Without a timeout: the configured exit bound (export.exit_flush_ms), read by the core. */
export function shutdown(timeoutMs?: number): void;
export function status(): Status;
/** Whether tracing is on now, without the status JSON (cheap: per event). */
export function enabled(): boolean;
/** The configured exit bound in ms (export.exit_flush_ms). */
export function exitBoundMs(): number;
/** Where the session's open part starts as the core last said (this process), or undefined. */
export function openPart(sessionID: string): { from: string; openChildren: string[] | null } | undefined;
/** Benchmarks only: turns on (the object returned, filled per payload, ms) or off the split of each payload's time. */
export function benchSplit(
  on: boolean,
): { cut: number; stringify: number; same: number; core: number; remember: number; bytes: number } | null;
/** text with its secrets replaced by "<redacted:KIND>" markers under the current settings. */
export function redact(text: string): { text: string; redactions: number };
/** url without the user:password@ before its host, its ?query and its #fragment: as the core's
 * log lines, status, doctor and install show an endpoint. */
export function urlForDisplay(url: string): string;
export const version: string;
