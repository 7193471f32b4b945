import Analysis
import Equilibrium
import Foundation
import HATConfig
import HATModel
import Output

/// The prices of a solved baseline, read from its summary.json, after checking that it was solved for the
/// same world and model as the configuration (exit 2 naming the file and the key otherwise).
public struct BaselineRun {
    public var closure: Closure
    public var wages: [Double]
    public var rates: [Double]
    public var beta: Double
    public var transfers: [Double]
    /// The buyer prices the baseline found (row = importer), when the supply side's prices depend on spending.
    public var buyerPrices: [[Double]]?
    /// The aggregate trade elasticity of the country the baseline analysed (`[analysis]`), when it did.
    public var analysedElasticity: (country: String, value: Double)?

    /// A baseline's tariff revenue is rebated per capita (a run configuration has no other scheme), so its
    /// prices carry that scheme.
    public var prices: Prices {
        var p = Prices(wages: wages, rates: rates, beta: beta, transfers: transfers)
        p.buyerPrices = buyerPrices
        return p
    }

    public static func read(directory: String, config cfg: RunConfiguration) throws -> BaselineRun {
        let path = (directory as NSString).appendingPathComponent("summary.json")
        func bad(_ key: String, _ problem: String) -> ConfigError { ConfigError(file: path, key: key, problem: problem) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw bad("", "cannot read the baseline's summary.json (run hat solve first, or point --baseline at its output folder)")
        }
        guard let object = try? JSON.parse(String(decoding: data, as: UTF8.self)), case .object = object else {
            throw bad("", "not a JSON object")
        }
        func numbers(_ value: JSON?) -> [Double]? { value?.doubles }
        func number(_ value: JSON?) -> Double? { value?.double }
        guard object["status"]?.string == "converged" else {
            throw bad("status", "the baseline is \(object["status"]?.string ?? "missing a status"), not converged")
        }
        let m = cfg.world.count
        guard let names = object["countries"]?.array?.compactMap(\.string), names == cfg.world.names else {
            throw bad("countries", "the baseline was solved for other countries than \(cfg.path) (\(cfg.world.names.joined(separator: ", ")))")
        }
        guard let closureName = object["closure"]?.string, let closure = Closure(rawValue: closureName) else {
            throw bad("closure", "missing or not one of \(Closure.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard closure != .autarky else {
            throw bad("closure", "an autarky baseline has one R per country; counterfactuals need one world R")
        }
        // The same closure with the same fixed parameter (β, or R for fixed-rate) as the configuration.
        guard closure == cfg.equilibrium.closure.kind else {
            throw bad("closure", "the baseline was solved with closure \(closure.rawValue), the configuration has \(cfg.equilibrium.closure.kind.rawValue)")
        }
        // The same model and world: every number the configuration gives, bit for bit.
        let model = object["model"] ?? .object([])
        for (key, value) in [("gamma", cfg.model.gamma), ("sigma_eps", cfg.model.sigmaEps), ("psi_slope", cfg.model.psiSlope),
                             ("phi", cfg.model.phi), ("amax", cfg.model.amax)] where number(model[key]) != value {
            throw bad("model.\(key)", "the baseline has \(number(model[key]).map { "\($0)" } ?? "none"), the configuration \(value)")
        }
        let grid = object["grid"] ?? .object([])
        let inc = cfg.model.income
        for (key, value) in [("assets", Double(cfg.model.assetPoints)), ("persistent_states", Double(inc.persistentStates)),
                             ("transitory_states", Double(inc.transitoryStates)), ("rho", inc.rho),
                             ("sigma_persistent", inc.sigmaPersistent), ("sigma_transitory", inc.sigmaTransitory)]
            where number(grid[key]) != value {
            throw bad("grid.\(key)", "the baseline has \(number(grid[key]).map { "\($0)" } ?? "none"), the configuration \(value)")
        }
        let world = object["world"] ?? .object([])
        for (key, value) in [("tfp", cfg.world.tfp), ("labor", cfg.world.labor)] where numbers(world[key]) != value {
            throw bad("world.\(key)", "differs from the configuration's")
        }
        for (key, value) in [("trade_costs", cfg.world.tradeCosts), ("tariffs", cfg.world.tariffs)] {
            let rows = world[key]?.array?.compactMap(\.doubles)
            guard let rows, rows.count == m, rows.flatMap({ $0 }) == value else { throw bad("world.\(key)", "differs from the configuration's") }
        }
        guard let wages = numbers(object["wages"]), wages.count == m, wages.allSatisfy({ $0 > 0 && $0.isFinite }),
              let rates = numbers(object["R"]), rates.count == m, rates.allSatisfy({ $0 > 0 && $0.isFinite }),
              let beta = number(object["beta"]), beta > 0, beta < 1 else {
            throw bad("wages", "missing or invalid wages, R or beta")
        }
        guard rates.allSatisfy({ $0 == rates[0] }) else { throw bad("R", "one world R expected, the baseline has \(rates)") }
        let fixed = cfg.equilibrium.closure.parameter
        let baselineValue = fixed.name == "R" ? rates[0] : beta
        guard baselineValue == fixed.value else {
            throw bad(fixed.name == "R" ? "R" : "beta", "the baseline has \(fixed.name) = \(baselineValue), the configuration holds \(fixed.name) = \(fixed.value) fixed (\(fixed.name == "R" ? "equilibrium.fixed_rate" : "model.beta"))")
        }
        // summary.json also records the fixed parameter by name (closure_parameters): it must say the same.
        let parametersKey = "closure_parameters"
        guard case .object(let recorded)? = object[parametersKey] else {
            throw bad(parametersKey, "missing or not an object (expected {\"\(fixed.name)\": \(fixed.value)})")
        }
        guard recorded.count == 1, recorded[0].0 == fixed.name else {
            throw bad(parametersKey, "expected exactly {\"\(fixed.name)\": \(fixed.value)}, the baseline has the key(s) \(recorded.map(\.0).joined(separator: ", "))")
        }
        guard let recordedValue = recorded[0].1.double, recordedValue == fixed.value else {
            throw bad("\(parametersKey).\(fixed.name)", "the baseline has \(recorded[0].1.double.map { "\($0)" } ?? "no number"), the configuration holds \(fixed.name) = \(fixed.value) fixed")
        }
        let transfers = numbers(object["transfers"]) ?? [Double](repeating: 0, count: m)
        guard transfers.count == m, transfers.allSatisfy({ $0.isFinite }) else { throw bad("transfers", "invalid") }
        var run = BaselineRun(closure: closure, wages: wages, rates: rates, beta: beta, transfers: transfers)
        // The same supply side with the same parameters; its buyer prices when they depend on spending.
        let supply = cfg.world.supply
        if supply.isEqual(to: ArmingtonSupply()) {
            if let other = object["supply"]?.string { throw bad("supply", "the baseline was solved with the \(other) supply side, the configuration has none ([firms])") }
        } else {
            guard object["supply"]?.string == supply.name else { throw bad("supply", "the baseline was not solved with the \(supply.name) supply side of the configuration ([firms])") }
            guard let recorded = object["supply_parameters"], recorded == supplyJSON(SupplyReport(fields: supply.parameters)) else {
                throw bad("supply_parameters", "differ from the configuration's [firms]")
            }
            if supply.spendingElasticity > 0 {
                guard let rows = object["buyer_prices"]?.array?.compactMap(\.doubles), rows.count == m,
                      rows.allSatisfy({ $0.count == m && $0.allSatisfy { $0 > 0 && $0.isFinite } }) else {
                    throw bad("buyer_prices", "missing or invalid (\(m) x \(m) positive numbers, the composite prices of the baseline)")
                }
                run.buyerPrices = rows
            }
        }
        if let country = object["analysis"]?["country"]?.string, let value = object["analysis"]?["aggregate_elasticity"]?.double,
           value.isFinite {
            run.analysedElasticity = (country, value)
        }
        return run
    }
}

/// What a run against a baseline (`hat counterfactual`, `hat policy`) checks and computes before its long
/// computation: the analysed country (the option, else [analysis] country, else the last country), the
/// baseline's summary.json checked against the configuration, and the analysed household re-solved cold at
/// the reporting tolerance (the same bits as the baseline's reporting evaluation, on every rank). Prices at
/// which that household cannot be solved are bad input.
public struct BaselineHousehold {
    public let country: Int
    public let base: BaselineRun
    public let income: IncomeProcess
    public let household: AnalysedHousehold

    public init(config cfg: RunConfiguration, baseline: String, country: String?, purpose: String) throws {
        let world = cfg.world, m = world.count
        if let country {
            guard let i = world.countryIndex(country) else {
                throw ConfigError(file: "--country", key: "", problem: "\"\(country)\" is not a country of this world (\(world.names.joined(separator: ", ")))")
            }
            self.country = i
        } else {
            self.country = cfg.analysis?.country ?? m - 1
        }
        guard m >= 2 else { throw ConfigError(file: cfg.path, key: "world.countries", problem: "\(purpose) needs at least two countries") }
        base = try BaselineRun.read(directory: baseline, config: cfg)
        income = IncomeProcess(cfg.model.income)
        do {
            household = try AnalysedHousehold.solve(country: self.country, world: world, model: cfg.model, income: income,
                                                    prices: base.prices,
                                                    householdTolerance: cfg.equilibrium.reportingHouseholdTolerance,
                                                    distributionTolerance: cfg.equilibrium.evaluation.distributionTolerance)
            guard household.masses.allSatisfy({ $0.isFinite }) else { throw AnalysisError("the stationary distribution is not finite") }
        } catch {
            throw ConfigError(file: (baseline as NSString).appendingPathComponent("summary.json"), key: "wages",
                              problem: "the household problem of \(world.names[self.country]) cannot be solved at the baseline's prices: \(error)")
        }
    }
}
