/// Country aggregates of HAT-SPEC §4.1, already multiplied by the country's labour force L_i.
public struct CountryAggregates: Sendable, Equatable {
    /// N_i = L Σ_k λ_k z_s(k).
    public var efficiencyUnits: Double
    /// 𝒜′_i = L Σ_k λ_k Σ_j π_kj a′_kj (bond demand).
    public var bondDemand: Double
    /// B_i = L Σ_k λ_k a(k) (current assets, reporting).
    public var assets: Double
    /// PC_i = L Σ_k λ_k Σ_j p_j c_kj π_kj.
    public var expenditure: Double
    /// M_ij = L Σ_k λ_k p_j c_kj π_kj for every source j (buyer prices).
    public var imports: [Double]
    /// Y_i = w_i N_i.
    public var output: Double
    /// Mass at the top of the asset grid (diagnostic for the saving cap, HAT-SPEC §9 item 7).
    public var massAtTop: Double

    /// Trade shares π_ij = M_ij / PC_i.
    public var tradeShares: [Double] { imports.map { $0 / expenditure } }

    public init(efficiencyUnits: Double, bondDemand: Double, assets: Double, expenditure: Double,
                imports: [Double], output: Double, massAtTop: Double) {
        self.efficiencyUnits = efficiencyUnits; self.bondDemand = bondDemand; self.assets = assets
        self.expenditure = expenditure; self.imports = imports; self.output = output; self.massAtTop = massAtTop
    }

    /// Aggregates of a country that could not be evaluated: every entry NaN.
    public static func unavailable(varieties: Int) -> CountryAggregates {
        CountryAggregates(efficiencyUnits: .nan, bondDemand: .nan, assets: .nan, expenditure: .nan,
                          imports: [Double](repeating: .nan, count: varieties), output: .nan, massAtTop: .nan)
    }

    /// Every entry is a finite number.
    public var isFinite: Bool {
        ([efficiencyUnits, bondDemand, assets, expenditure, output, massAtTop] + imports).allSatisfy { $0.isFinite }
    }

    /// Aggregate one country from its solved household and distribution.
    public init(problem pr: HouseholdProblem, household hh: HouseholdSolver,
                distribution: StationaryDistribution, labor: Double) {
        let na = hh.assetCount, nS = hh.shockCount, nJ = hh.varietyCount
        let lambda = distribution.masses
        // Read the solver's buffers directly: no copies of the N_a·S·M policy arrays per evaluation.
        let c = hh.consumptionPointer, pi = hh.piPtr, aNext = hh.aNextPtr
        var n = 0.0, bond = 0.0, b = 0.0, top = 0.0
        var m = [Double](repeating: 0, count: nJ)
        for s in 0..<nS {
            for a in 0..<na {
                let k = s * na + a
                let mass = lambda[k]
                n += mass * pr.income.z[s]
                b += mass * pr.assets[a]
                if a == na - 1 { top += mass }
                var saving = 0.0
                for j in 0..<nJ {
                    let idx = hh.index(variety: j, shock: s, asset: a)
                    saving += pi[idx] * aNext[idx]
                    m[j] += mass * pr.prices[j] * c[idx] * pi[idx]
                }
                bond += mass * saving
            }
        }
        efficiencyUnits = labor * n
        bondDemand = labor * bond
        assets = labor * b
        imports = m.map { labor * $0 }
        var total = 0.0
        for x in imports { total += x }
        expenditure = total
        output = pr.wage * efficiencyUnits
        massAtTop = top
    }
}
