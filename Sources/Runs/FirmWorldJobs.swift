import Analysis
import Firms
import Foundation
import HATConfig
import Output
import Parallel

/// A firm world's configuration, and what to name in an error about its output folder.
public struct LoadedFirmWorld {
    public var configuration: FirmWorldConfiguration
    public var folderFile: String
    public var folderKey: String
    public init(configuration: FirmWorldConfiguration, folderFile: String, folderKey: String) {
        self.configuration = configuration; self.folderFile = folderFile; self.folderKey = folderKey
    }
}

extension MelitzSolution {
    /// The summary of a solved firm world (docs/FIRMS.md, "Outputs").
    func summaryFields(gains: [Double]?) -> [(String, JSON)] {
        let m = aggregateMargins
        let split = labourSplit
        var fields: [(String, JSON)] = [
            ("countries", .array(world.names.map { JSON.string($0) })),
            ("wages", .numbers(wages)),
            ("trade_shares", .matrix(tradeShares)),
            ("real_wages", .numbers(realWages)),
            ("welfare", .numbers(welfare)),
            ("price_index", .numbers(priceIndex)),
            ("income", .numbers(income)),
            ("tariff_revenue", .numbers(tariffRevenue)),
        ]
        if case .fixed = world.entry { fields.append(("profits", .numbers(profits))) }
        if let gains { fields.append(("gains_from_trade", .numbers(gains))) }
        fields.append(("firms", .object([
            ("cutoffs", .matrix(cutoffs)),
            ("entry_mass", .numbers(entryMass)),
            ("sellers", .matrix(sellers)),
            ("exporter_share", .numbers(exporterShares)),
            ("mean_sales", .matrix(meanSales)),
            ("sales", .matrix(sales)),
            ("labour", .object([("entry", .numbers(split.map(\.entry))), ("fixed_costs", .numbers(split.map(\.fixedCosts))),
                                ("production", .numbers(split.map(\.production)))])),
            ("elasticity", .object([("total", .number(m.total)), ("intensive", .number(m.intensive)),
                                    ("extensive", .number(m.extensive)), ("sellers", .number(m.sellers)),
                                    ("mean_sales", .number(m.meanSales))])),
        ])))
        return fields
    }
}

func firmRunJSON(_ cfg: FirmWorldConfiguration, runID: String, ranks: Int) -> JSON {
    .object([("run_id", .string(runID)), ("version", .string(hatVersion)), ("ranks", .integer(ranks)),
             ("configuration", .string(cfg.path)), ("overrides", .array(cfg.overrides.map { JSON.string($0) }))])
}

/// `hat solve` on a firm world: the equilibrium, its conditions checked (selection into exporting, interior
/// cutoffs under Pareto), the gains from trade against each country's autarky, into summary.json.
public struct FirmSolveJob {
    public let loaded: LoadedFirmWorld
    public let communicator: Communicator
    public let log: Logger
    public init(loaded: LoadedFirmWorld, communicator: Communicator, log: Logger) {
        self.loaded = loaded; self.communicator = communicator; self.log = log
    }

    public func run(started: Date) throws -> RunEnd {
        let cfg = loaded.configuration
        let comm = communicator
        return try runOnRoot(directory: cfg.outputDirectory, outputs: ["summary.json"], folderFile: loaded.folderFile,
                             folderKey: loaded.folderKey, configuration: cfg.path, comm: comm) { folder in
            let world = cfg.world
            let t0 = Date()
            let solution = try MelitzEquilibrium(world: world).solve()
            let seconds = Date().timeIntervalSince(t0)
            let converged = solution.report.converged
            var fields: [(String, JSON)] = [("status", .string(converged ? "converged" : "not-converged")),
                                            ("model", .string("melitz")), ("households", .string("representative"))]
            if converged {
                try solution.checkConditions(requireInterior: world.distributions.allSatisfy { $0.paretoShape != nil })
                fields += solution.summaryFields(gains: try solution.gainsFromTrade())
            } else {
                // The last iterate, so that the failure can be inspected.
                fields += [("wages", .numbers(solution.wages))]
            }
            fields += [("solver", .object([("iterations", .integer(solution.report.iterations)),
                                           ("residual", .number(solution.report.residual))])),
                       ("equilibrium_wall_seconds", .number(seconds)), ("wall_seconds", .number(Date().timeIntervalSince(started))),
                       ("version", .string(hatVersion)), ("run", firmRunJSON(cfg, runID: folder.runID, ranks: comm.size))]
            try writeAtomically((JSON.object(fields).droppingNonFinite() ?? .object([])).rendered() + "\n",
                                to: cfg.outputDirectory + "/summary.json")
            log(String(format: "firms: %d countries, sigma %g, %@: %@ in %d iterations (residual %.1e, %.2f ms on rank 0), wrote %@/summary.json",
                       world.count, world.sigma, describe(world), converged ? "converged" : "NOT converged", solution.report.iterations,
                       solution.report.residual, 1000 * seconds, cfg.outputDirectory))
            return converged
        }
    }
}

func describe(_ world: MelitzWorld) -> String {
    let g: String
    switch world.distributions[0] {
    case let .pareto(k, _): g = "Pareto k \(k)"
    case let .truncatedPareto(k, _, _): g = "truncated Pareto k \(k)"
    case let .lognormal(_, s): g = "lognormal sigma \(s)"
    }
    let entry: String
    if case .free = world.entry { entry = "free entry" } else { entry = "fixed entry" }
    return "\(g), \(entry)\(world.differentiatedShare.map { ", outside good (share \($0))" } ?? "")"
}

/// `hat counterfactual` on a firm world: the experiment's trade-cost, fixed-cost or tariff change, solved
/// by a full re-solve and, under Pareto with free entry, by exact hat algebra; the two agree.
public struct FirmCounterfactualJob {
    public struct Request {
        public var baseline: String
        public var experiment: TradeExperiment
        public var factor: Double?
        public var fixedCostFactor: Double?
        public var tariff: Double?
        public var country: String?
        public var outputFolderGiven = false
        public init(baseline: String, experiment: TradeExperiment) { self.baseline = baseline; self.experiment = experiment }
    }

    public let loaded: LoadedFirmWorld
    public let request: Request
    public let communicator: Communicator
    public let log: Logger
    public init(loaded: LoadedFirmWorld, request: Request, communicator: Communicator, log: Logger) {
        self.loaded = loaded; self.request = request; self.communicator = communicator; self.log = log
    }

    /// The changed world (exit 2 naming the option on a bad request).
    public static func changedWorld(_ world: MelitzWorld, request: Request) throws -> (MelitzWorld, Int) {
        let names = world.names
        var c = names.count - 1
        if let name = request.country {
            guard let i = names.firstIndex(of: name) ?? names.firstIndex(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) else {
                throw ConfigError(file: "--country", key: "", problem: "unknown country \"\(name)\" (countries: \(names.joined(separator: ", ")))")
            }
            c = i
        }
        let pairs: [(importer: Int, exporter: Int)]
        do { pairs = try request.experiment.changedPairs(names: names, country: c) } catch let e as AnalysisError {
            throw ConfigError(file: "--experiment", key: "", problem: e.description)
        }
        var out = world
        if request.experiment.isTariff {
            if request.factor != nil || request.fixedCostFactor != nil {
                throw ConfigError(file: request.factor != nil ? "--factor" : "--fixed-cost-factor", key: "", problem: "applies to trade-cost experiments, not to \(request.experiment.label)")
            }
            let t = request.tariff ?? 0.1
            guard t >= 0, t.isFinite else { throw ConfigError(file: "--tariff", key: "", problem: "must be >= 0 in a firm world (got \(t))") }
            for (n, i) in pairs { out.tariffs[n][i] = (1 + out.tariffs[n][i]) * (1 + t) - 1 }
        } else {
            if request.tariff != nil { throw ConfigError(file: "--tariff", key: "", problem: "applies to tariff experiments only") }
            let f = request.factor ?? (request.fixedCostFactor == nil ? 0.9 : 1)
            let g = request.fixedCostFactor ?? 1
            guard f > 0, f.isFinite else { throw ConfigError(file: "--factor", key: "", problem: "must be > 0 (got \(f))") }
            guard g > 0, g.isFinite else { throw ConfigError(file: "--fixed-cost-factor", key: "", problem: "must be > 0 (got \(g))") }
            for (n, i) in pairs {
                out.tradeCosts[n][i] *= f
                guard out.tradeCosts[n][i] >= 1 else {
                    throw ConfigError(file: "--factor", key: "", problem: "takes the cost of \(names[i]) → \(names[n]) to \(out.tradeCosts[n][i]), below 1 (iceberg costs are at least 1)")
                }
                out.fixedCosts[n][i] *= g
            }
        }
        return (out, c)
    }

    public func run(started: Date) throws -> RunEnd {
        var cfg = loaded.configuration
        let (changed, c) = try Self.changedWorld(cfg.world, request: request)
        let summary = (request.baseline as NSString).appendingPathComponent("summary.json")
        guard let data = FileManager.default.contents(atPath: summary), let base = try? JSON.parse(String(decoding: data, as: UTF8.self)) else {
            throw ConfigError(file: summary, key: "", problem: "missing or not JSON: --baseline must be the output folder of hat solve of this configuration")
        }
        guard base["model"]?.string == "melitz", base["status"]?.string == "converged", let baseWages = base["wages"]?.doubles else {
            throw ConfigError(file: summary, key: "status", problem: "not a converged hat solve of a firm world")
        }
        if !request.outputFolderGiven {
            cfg.outputDirectory = (request.baseline as NSString).appendingPathComponent("counterfactual-\(request.experiment.canonical(names: cfg.world.names).label)")
        }
        let comm = communicator
        return try runOnRoot(directory: cfg.outputDirectory, outputs: ["counterfactual.json"], folderFile: request.outputFolderGiven ? "--out" : "--baseline",
                             folderKey: "", configuration: cfg.path, comm: comm) { folder in
            let before = try MelitzEquilibrium(world: cfg.world).solve()
            guard before.report.converged, zip(before.wages, baseWages).allSatisfy({ abs($0 - $1) <= 1e-9 * max(1, abs($1)) }),
                  before.wages.count == baseWages.count else {
                throw ConfigError(file: summary, key: "wages", problem: "the baseline is not a solve of this configuration (its wages differ from the configuration's equilibrium)")
            }
            let t0 = Date()
            let after = try MelitzEquilibrium(world: changed).solve()
            let resolveSeconds = Date().timeIntervalSince(t0)
            guard after.report.converged else {
                throw HatFailure("firms: the counterfactual equilibrium did not converge (residual \(after.report.residual))", code: HatExit.notConverged)
            }
            try after.checkConditions(requireInterior: changed.distributions.allSatisfy { $0.paretoShape != nil })
            let change = (0..<changed.count).map { after.welfare[$0] / before.welfare[$0] }
            var fields: [(String, JSON)] = [
                ("status", .string("converged")), ("model", .string("melitz")),
                ("experiment", .string(request.experiment.canonical(names: cfg.world.names).label)),
                ("country", .string(cfg.world.names[c])),
                ("countries", .array(cfg.world.names.map { JSON.string($0) })),
                ("welfare_change", .numbers(change)),
                ("domestic_share_change", .numbers((0..<changed.count).map { after.tradeShares[$0][$0] / before.tradeShares[$0][$0] })),
                ("wages", .numbers(after.wages)), ("trade_shares", .matrix(after.tradeShares)),
                ("firms", .object([("cutoffs", .matrix(after.cutoffs)), ("sellers", .matrix(after.sellers)),
                                   ("exporter_share", .numbers(after.exporterShares))])),
                ("resolve_wall_seconds", .number(resolveSeconds)),
            ]
            if let k = changed.commonParetoShape, !changed.tariffs.joined().contains(where: { $0 != 0 }), !cfg.world.tariffs.joined().contains(where: { $0 != 0 }) {
                fields.append(("acr_welfare_change", .numbers((0..<changed.count).map { pow(after.tradeShares[$0][$0] / before.tradeShares[$0][$0], -1 / k) })))
            }
            if case .free = changed.entry, changed.commonParetoShape != nil, changed.differentiatedShare == nil {
                let t1 = Date()
                do {
                    let hat = try MelitzHatAlgebra(base: before).counterfactual(tradeCosts: changed.tradeCosts, fixedCosts: changed.fixedCosts,
                                                                                 tariffs: changed.tariffs)
                    let hatSeconds = Date().timeIntervalSince(t1)
                    let gap = zip(hat.welfareChange, change).map { abs($0 - $1) }.max() ?? 0
                    fields += [("hat_algebra", .object([("welfare_change", .numbers(hat.welfareChange)), ("wages", .numbers(hat.wages)),
                                                       ("max_gap_to_resolve", .number(gap)), ("wall_seconds", .number(hatSeconds))]))]
                    log(String(format: "firms: exact hat algebra agrees with the re-solve to %.1e (welfare changes)", gap))
                } catch let e as FirmsError {
                    // The cross-check only: the re-solve stands, and the reason the hat algebra has no answer is kept.
                    fields += [("hat_algebra", .object([("error", .string(e.problem))]))]
                    log("firms: exact hat algebra has no answer here (\(e.problem)); the re-solve stands")
                }
            }
            fields += [("wall_seconds", .number(Date().timeIntervalSince(started))), ("version", .string(hatVersion)),
                       ("run", firmRunJSON(cfg, runID: folder.runID, ranks: comm.size))]
            try writeAtomically((JSON.object(fields).droppingNonFinite() ?? .object([])).rendered() + "\n",
                                to: cfg.outputDirectory + "/counterfactual.json")
            log("firms: counterfactual \(request.experiment.label) of \(cfg.world.names[c]): welfare changes "
                + change.map { String(format: "%.6f", $0) }.joined(separator: " ") + ", wrote \(cfg.outputDirectory)/counterfactual.json")
            return true
        }
    }
}

/// `hat calibrate` on a firm world built from data (`world.data_dir`): the one-shot gravity-as-a-guide
/// calibration (done while the configuration is read), reported into calibration.json: the data's and the
/// model's 46 moments, the calibrated trade costs and lower bounds, floored pairs and the pairs where
/// selection into exporting fails. Exit 3 when the calibrated world is not a Melitz equilibrium as it stands
/// (floored pairs, so the moments are not matched, or failed selection).
public struct FirmCalibrationJob {
    public let loaded: LoadedFirmWorld
    public let communicator: Communicator
    public let log: Logger
    public init(loaded: LoadedFirmWorld, communicator: Communicator, log: Logger) {
        self.loaded = loaded; self.communicator = communicator; self.log = log
    }

    public func run(started: Date) throws -> RunEnd {
        let cfg = loaded.configuration
        guard let gravity = cfg.gravity else {
            throw ConfigError(file: cfg.path, key: "world.data_dir", problem: "hat calibrate on a firm world needs a world built from data ([world] data_dir)")
        }
        return try runOnRoot(directory: cfg.outputDirectory, outputs: ["calibration.json"], folderFile: loaded.folderFile,
                             folderKey: loaded.folderKey, configuration: cfg.path, comm: communicator) { folder in
            let names = gravity.world.names
            let pairs = { (list: [(importer: Int, exporter: Int)]) in JSON.array(list.map { JSON.string("\(names[$0.exporter])->\(names[$0.importer])") }) }
            let exact = gravity.floored.isEmpty && gravity.selectionViolations.isEmpty
            let fields: [(String, JSON)] = [
                ("status", .string(exact ? "converged" : "not-converged")),
                ("model", .string("melitz")), ("method", .string("gravity as a guide, one shot (Pareto)")),
                ("countries", .array(names.map { JSON.string($0) })),
                ("max_moment_gap", .number(gravity.maxMomentGap)),
                ("data_moments", .numbers(gravity.dataMoments.flattened)),
                ("model_moments", .numbers(gravity.modelMoments.flattened)),
                ("trade_costs", .matrix(gravity.world.tradeCosts)),
                ("lower_bounds", .numbers(gravity.world.distributions.map(\.lowerSupport))),
                ("wages", .numbers(gravity.solution.wages)),
                ("floored_pairs", pairs(gravity.floored)),
                ("selection_violations", pairs(gravity.selectionViolations)),
                ("wall_seconds", .number(Date().timeIntervalSince(started))), ("version", .string(hatVersion)),
                ("run", firmRunJSON(cfg, runID: folder.runID, ranks: communicator.size)),
            ]
            try writeAtomically((JSON.object(fields).droppingNonFinite() ?? .object([])).rendered() + "\n",
                                to: cfg.outputDirectory + "/calibration.json")
            log(String(format: "firms: gravity as a guide on %d countries: max moment gap %.1e, %d floored pair(s), selection into exporting fails for %d pair(s)%@; wrote %@/calibration.json",
                       names.count, gravity.maxMomentGap, gravity.floored.count, gravity.selectionViolations.count,
                       gravity.selectionViolations.isEmpty ? "" : " (e.g. \(names[gravity.selectionViolations[0].exporter]) -> \(names[gravity.selectionViolations[0].importer]))",
                       cfg.outputDirectory))
            return exact
        }
    }
}
