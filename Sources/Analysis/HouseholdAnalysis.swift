import Equilibrium
import Foundation
import HATConfig
import HATModel
import Parallel

/// Everything `[analysis]` asks for, for one country at a solved equilibrium (HAT-SPEC §6.1–§6.4).
public struct HouseholdAnalysis: Sendable {
    public var household: AnalysedHousehold
    /// π_ij of the analysed country from its household (equal to the reported trade shares).
    public var importShares: [Double]
    public var elasticities: MicroElasticities?
    public var bilateral: [Double]?
    public var aggregate: Double?
    /// θ̄ per state.
    public var stateElasticity: [Double]?
    public var mpc: MarginalPropensities?
    public var crossSection: CrossSection?
    public var simulated: SimulatedCrossSection?
    /// Wall seconds of each part (elasticities, mpc, cross_section).
    public var timings: [(String, Double)] = []

    /// Run the configured analysis on the household the evaluator last solved for `settings.country`
    /// (collective: the elasticities' solves are spread over the ranks; every rank returns the same result).
    public static func run(_ settings: AnalysisSettings, evaluator: WorldEvaluator, prices: Prices,
                           log: Logger = .silent) throws -> HouseholdAnalysis {
        let base = try AnalysedHousehold.gather(country: settings.country, from: evaluator, prices: prices)
        return try run(settings, household: base, communicator: evaluator.communicator, log: log)
    }

    public static func run(_ settings: AnalysisSettings, household base: AnalysedHousehold, communicator: Communicator,
                           welfare: [Double]? = nil, log: Logger = .silent) throws -> HouseholdAnalysis {
        var out = HouseholdAnalysis(household: base, importShares: Analysis.importShares(base))
        let name = "country \(base.country + 1)"
        if settings.elasticities {
            let t0 = Date()
            let micro = try MicroElasticities.compute(base, communicator: communicator)
            let bilateral = micro.bilateral(base)
            out.elasticities = micro
            out.bilateral = bilateral
            out.aggregate = micro.aggregate(bilateral: bilateral, tradeShares: out.importShares)
            out.stateElasticity = micro.stateElasticity(base)
            out.timings.append(("elasticities", Date().timeIntervalSince(t0)))
            log(String(format: "analysis (%@): micro elasticities for %d sources x %d states (%d household solves) in %.2f s; aggregate elasticity %.10f",
                       name, micro.sources, micro.states, 2 * micro.sources, Date().timeIntervalSince(t0), out.aggregate!))
            if micro.unconvergedSolves > 0 {
                log("warning: \(micro.unconvergedSolves) household solve(s) of the micro elasticities hit the iteration cap")
            }
        }
        if settings.mpc {
            let t0 = Date()
            out.mpc = try MarginalPropensities.compute(base)
            out.timings.append(("mpc", Date().timeIntervalSince(t0)))
        }
        if settings.crossSection {
            let t0 = Date()
            out.crossSection = CrossSection(base, elasticity: out.stateElasticity, mpc: out.mpc?.byState, welfare: welfare)
            if settings.simulate > 0 {
                out.simulated = SimulatedCrossSection(base, draws: settings.simulate, seed: settings.seed)
            }
            out.timings.append(("cross_section", Date().timeIntervalSince(t0)))
        }
        return out
    }
}
