import { basename } from 'node:path';
import { LlamaText, SpecialToken, SpecialTokensText, readGgufFileInfo, resolveChatWrapper, type ChatHistoryItem, type GgufFileInfo } from 'node-llama-cpp';
import { HearthError } from '../errors.js';
import type { TrainingRecord } from './dataset-records.js';

// Datasets are rendered with the base model's own chat template before tokenizing, so a tuned
// model is prompted at inference exactly as it was trained: the engine (and Ollama) render chat
// requests with the same template. Rendering needs only the GGUF's metadata (no weights loaded).
//
// A rendered sample is text in which special tokens appear as their token text (e.g.
// "<|im_start|>", "</s>"); the trainer tokenizes it with special-token parsing on. Each sample
// ends with the template's end-of-turn, so the model learns to stop after its answer.

function tokenText(info: GgufFileInfo, id: number | undefined): string {
  const tokens = (info.metadata as { tokenizer?: { ggml?: { tokens?: readonly string[] } } }).tokenizer?.ggml?.tokens;
  return id !== undefined && tokens?.[id] !== undefined ? tokens[id] : '';
}

function specialTokenIds(info: GgufFileInfo): { bos?: number; eos?: number; eot?: number } {
  const ggml = (info.metadata as { tokenizer?: { ggml?: Record<string, unknown> } }).tokenizer?.ggml ?? {};
  const id = (k: string) => (typeof ggml[k] === 'number' ? (ggml[k] as number) : undefined);
  return { bos: id('bos_token_id'), eos: id('eos_token_id'), eot: id('eot_token_id') };
}

interface SpecialTexts {
  bos: string;
  eos: string;
  eot: string;
}

/** The text of BOS, EOS and EOT in this vocabulary (EOT falls back to EOS). */
function specialTexts(info: GgufFileInfo): SpecialTexts {
  const ids = specialTokenIds(info);
  return { bos: tokenText(info, ids.bos), eos: tokenText(info, ids.eos), eot: tokenText(info, ids.eot ?? ids.eos) };
}

function asText(text: LlamaText, special: SpecialTexts): string {
  return text.values
    .map((v) => {
      if (typeof v === 'string') return v;
      if (v instanceof SpecialTokensText) return v.value;
      if (v instanceof SpecialToken) {
        if (v.value === 'BOS') return special.bos;
        if (v.value === 'EOS') return special.eos;
        if (v.value === 'EOT') return special.eot;
        return '';
      }
      return '';
    })
    .join('');
}

function historyOf(record: TrainingRecord): ChatHistoryItem[] {
  return record.messages.map((m) =>
    m.role === 'system' ? { type: 'system', text: m.content } : m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: 'user', text: m.content },
  );
}

export interface RenderedSamples {
  /** One text per record, without a leading BOS (the trainer adds it). */
  samples: string[];
  /** The chat wrapper used, for the job log. */
  wrapper: string;
}

/** Renders records with the chat template of the GGUF at `modelPath`. */
export async function renderForTraining(modelPath: string, records: readonly TrainingRecord[]): Promise<RenderedSamples> {
  const info = await readGgufFileInfo(modelPath, { readTensorInfo: false });
  const special = specialTexts(info);
  const bos = special.bos;
  const wrapper = resolveChatWrapper({ fileInfo: info, filename: basename(modelPath), bosString: bos || null, warningLogs: false });
  if (wrapper === null) throw new HearthError('invalid_request', `no chat template could be resolved for the base model (${basename(modelPath)})`, { code: 'no_chat_template' });
  const samples = records.map((record) => {
    const state = wrapper.generateContextState({ chatHistory: historyOf(record) });
    let text = asText(state.contextText, special);
    if (bos && text.startsWith(bos)) text = text.slice(bos.length);
    // The last answer is left open, as for generation; close it the way the model should.
    const end = state.stopGenerationTriggers[0];
    return text + (end ? asText(LlamaText(end), special) : special.eos);
  });
  return { samples, wrapper: wrapper.wrapperName };
}
