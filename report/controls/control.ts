/** What every control is given, and how one is written. */
import type { Control, ControlStatus, Denials, IdentityInventory, LedgerIntegrity, MtlsCoverage, PolicyCoverage, TrustChain } from '../model.ts';

/** The report's sections, plus the few facts about decisions that no section keeps. */
export interface ControlContext {
  mtls: MtlsCoverage;
  inventory: IdentityInventory;
  ledger: LedgerIntegrity;
  trust: TrustChain;
  policy: PolicyCoverage;
  denials: Denials;
  sessions: {
    /** Decision records in the window, and how many distinct decision ids they carry. */
    decisions: number;
    distinctDecisionIds: number;
    /** Connections admitted (allow or audit) without a verified client identity. */
    admittedWithoutIdentity: number;
  };
}

export type ControlDefinition = Pick<Control, 'id' | 'framework' | 'reference' | 'title'> & {
  /** The status and its evidence; `not-applicable` whenever the data says nothing either way. */
  evaluate(ctx: ControlContext): { status: ControlStatus; evidence: string };
};

export const notApplicable = (evidence: string) => ({ status: 'not-applicable' as const, evidence });
export const pass = (evidence: string) => ({ status: 'pass' as const, evidence });
export const fail = (problems: readonly string[]) => ({ status: 'fail' as const, evidence: `${problems.join('; ')}.` });
