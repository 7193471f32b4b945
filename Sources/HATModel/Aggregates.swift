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
        let width = Self.rowWidth(varieties: hh.varietyCount)
        var rows = [Double](repeating: 0, count: hh.shockCount * width)
        rows.withUnsafeMutableBufferPointer { Self.rowTotals(problem: pr, household: hh, distribution: distribution,
                                                             shocks: 0..<hh.shockCount, into: $0.baseAddress!) }
        self.init(rowTotals: rows, problem: pr, labor: labor)
    }

    /// Values per income state in `rowTotals`: N, 𝒜′, B, mass at the top, then M_j for every variety.
    public static func rowWidth(varieties: Int) -> Int { 4 + varieties }

    /// The sums over assets of one income state's row, for the rows `shocks` of `out` (`[shock][rowWidth]`).
    /// Blocks of a split grid each compute their rows, exchange them, and add them up in `init(rowTotals:)`
    /// in state order, exactly as an unsplit country does, so the aggregates do not depend on the split.
    public static func rowTotals(problem pr: HouseholdProblem, household hh: HouseholdSolver,
                                 distribution: StationaryDistribution, shocks: Range<Int>,
                                 into out: UnsafeMutablePointer<Double>) {
        let na = hh.assetCount, nJ = hh.varietyCount, width = rowWidth(varieties: nJ)
        // Read the solver's buffers directly: no copies of the N_a·S·M policy arrays per evaluation.
        let c = hh.consumptionPointer, pi = hh.piPtr, aNext = hh.aNextPtr
        distribution.withMasses { lambda in
            for s in shocks {
                var n = 0.0, bond = 0.0, b = 0.0
                let row = out + s * width
                for j in 0..<nJ { row[4 + j] = 0 }
                for a in 0..<na {
                    let mass = lambda[s * na + a]
                    n += mass * pr.income.z[s]
                    b += mass * pr.assets[a]
                    var saving = 0.0
                    for j in 0..<nJ {
                        let idx = hh.index(variety: j, shock: s, asset: a)
                        saving += pi[idx] * aNext[idx]
                        row[4 + j] += mass * pr.prices[j] * c[idx] * pi[idx]
                    }
                    bond += mass * saving
                }
                row[0] = n; row[1] = bond; row[2] = b; row[3] = lambda[s * na + na - 1]
            }
        }
    }

    /// Country aggregates from the row totals of every income state, summed in state order.
    public init(rowTotals rows: [Double], problem pr: HouseholdProblem, labor: Double) {
        let nJ = pr.varieties, width = Self.rowWidth(varieties: nJ), nS = rows.count / width
        var n = 0.0, bond = 0.0, b = 0.0, top = 0.0
        var m = [Double](repeating: 0, count: nJ)
        for s in 0..<nS {
            let row = s * width
            n += rows[row]; bond += rows[row + 1]; b += rows[row + 2]; top += rows[row + 3]
            for j in 0..<nJ { m[j] += rows[row + 4 + j] }
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
