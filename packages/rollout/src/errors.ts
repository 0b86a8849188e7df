// Typed errors of the agent loop: bad configuration or prompts name the field at fault; a
// generator or retriever that breaks its contract fails loudly with what was expected.

import { InvalidInputError } from '@sr1/core';

/** A rollout option or prompt that is not what the loop needs. */
export class RolloutInputError extends InvalidInputError {
  constructor(field: string, reason: string) {
    super({ code: 'rollout_input', field, reason });
  }
}

// The contract errors are @sr1/core's, so the providers (@sr1/model's adapters) throw the same class
// without depending on rollout; re-exported so rollout's API keeps them.
export { GeneratorContractError, RetrieverContractError } from '@sr1/core';
