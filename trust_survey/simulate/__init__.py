"""Simulated returns: fill a round's workbooks as trusts would, with non-returns, errors and mess.

Used by ``trust-survey simulate``, the demo and the tests of ingest. Stage order: plan the round
(:mod:`.messiness`), fill each organisation's answers (:mod:`.fill`, drawing on :mod:`.vocabulary`),
spoil some (:mod:`.messiness`), write them (:mod:`.writers`); :mod:`.orchestrate` runs the lot.
:mod:`.individuals` simulates answers to the individual review questionnaire and :mod:`.individual_files`
writes them as the survey team receives them (a survey-platform CSV export, workbooks, SPSS files).
"""
from trust_survey.simulate.fill import Answers, fill_return, rule_violations
from trust_survey.simulate.individuals import simulate_individuals
from trust_survey.simulate.orchestrate import SimulationResult, simulate_round

__all__ = ["Answers", "SimulationResult", "fill_return", "rule_violations", "simulate_individuals",
           "simulate_round"]
