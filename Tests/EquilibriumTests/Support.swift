import Equilibrium
import Foundation
import HATConfig
import Parallel
import TestSupport

/// Solve a configuration in this process (MPI as a singleton).
func solve(_ name: String, overrides: [String] = []) throws -> (RunConfiguration, EquilibriumResult, WorldEvaluator) {
    let config = try ConfigurationLoader.load(path: configPath(name), overrides: overrides)
    let evaluator = try WorldEvaluator(world: config.world, model: config.model, communicator: MPIEnvironment.world())
    let result = try solveEquilibrium(evaluator: evaluator, options: config.equilibrium)
    return (config, result, evaluator)
}
