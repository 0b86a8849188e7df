// Typed errors of the agent loop: bad configuration or prompts name the field at fault; a
// generator or retriever that breaks its contract fails loudly with what was expected.

import { InvalidInputError, Sr1Error } from '@sr1/core';

/** A rollout option or prompt that is not what the loop needs. */
export class RolloutInputError extends InvalidInputError {
  constructor(field: string, reason: string) {
    super({ code: 'rollout_input', field, reason });
  }
}

/** A `Generator` returned something other than what the interface promises. */
export class GeneratorContractError extends Sr1Error {
  constructor(message: string) {
    super('generator_contract', message);
  }
}

/** A `Retriever` returned something other than what the interface promises. */
export class RetrieverContractError extends Sr1Error {
  constructor(message: string) {
    super('retriever_contract', message);
  }
}
