// The household's choice probabilities π* over varieties on its `[variety][shock][asset]` layout, through
// `TasteShocks`.

extension HouseholdSolver {
    /// The score ψ_j + v_j of variety j for the 8 assets at `a` of income state s (`full`: as
    /// `VectorMath.load`); ψ is the home quality on the home variety and 0 elsewhere.
    @inline(__always)
    func score(_ v: UnsafeMutablePointer<Double>, variety j: Int, shock s: Int, asset a: Int, full: Bool,
               home: Int, homeQuality: Vec) -> Vec {
        let x = VectorMath.load(v + (j * shockCount + s) * assetCount, a, assetCount, full: full)
        return j == home ? homeQuality + x : Vec(repeating: 0) + x
    }

    /// π = softmax over varieties of (ψ + v)/σ (`TasteShocks`) for the income states `shocks`, 8 assets at a
    /// time: the weights are stored in `out`, then divided by their sum. A row shorter than a vector, or
    /// its last partial vector, is handled as in `expectationPhase`.
    func choiceProbabilities(_ pr: HouseholdProblem, v: UnsafeMutablePointer<Double>,
                             into out: UnsafeMutablePointer<Double>, shocks: Range<Int>) {
        let na = assetCount, nS = shockCount, home = pr.home
        let scale = TasteShockScale(sigma: pr.sigma)
        for s in shocks {
            let psiHome = Vec(repeating: pr.homeQuality[s])
            var start = 0
            while start < na {
                let a = na >= 8 ? min(start, na - 8) : start
                let full = na >= 8
                let (_, sum) = TasteShocks.weights(varieties: varietyCount, scale: scale, score: { j in
                    score(v, variety: j, shock: s, asset: a, full: full, home: home, homeQuality: psiHome)
                }) { j, e in VectorMath.store(e, out + (j * nS + s) * na, a, na, full: full) }
                for j in 0..<varietyCount {
                    let row = out + (j * nS + s) * na
                    VectorMath.store(VectorMath.load(row, a, na, full: full) / sum, row, a, na, full: full)
                }
                start += 8
            }
        }
    }
}
