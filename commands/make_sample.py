#!/usr/bin/env python3
"""Regenerate the embedded sample data in llmrank_cli/sample/ (all text written here).

passages/: 15 topics, ~300 short passages built from hand-written statements, graded
qrels 0-3 (3 answers the question, 2 on-topic detail, 1 mentions the topic, 0 judged
off-topic, including keyword-sharing decoys) and two first-stage runs computed here
(BM25 k1=0.9 b=0.4 and Dirichlet-smoothed query likelihood mu=1000).
llm/: 30 queries in 6 domains x 12 LLM ids with graded qrels 0-3 drawn from seeded
per-domain skills, so a query-aware model can beat the mean-grade prior, and a templated
answer per pair whose wording follows its grade (for rankers that read answers).

Usage: python commands/make_sample.py  (deterministic; rewrites the files)
"""
import json
import math
import random
import re
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "llmrank_cli" / "sample"

# qid: (query, answers, details, mentions, decoys)
TOPICS = {
    "101": ("how do vaccines train the immune system",
            ["Vaccines train the immune system by exposing it to a harmless antigen so it makes antibodies and memory cells.",
             "A vaccine teaches immune cells to recognise a pathogen's proteins, so a later infection is cleared quickly.",
             "After vaccination, memory B and T cells remain and respond faster when the real virus appears."],
            ["mRNA vaccines carry instructions for cells to build a spike protein that the body learns to attack.",
             "Booster doses raise antibody levels again when protection from the first series wanes.",
             "Adjuvants are added to some vaccines to provoke a stronger immune response."],
            ["Public health agencies publish vaccination schedules for children and adults.",
             "The first smallpox vaccine was developed in the eighteenth century.",
             "Cold chains keep vaccine vials at the right temperature during transport."],
            ["The training schedule for marathon runners builds endurance over sixteen weeks.",
             "An immune system of a company is a metaphor for how it resists hostile takeovers."]),
    "102": ("what causes ocean tides",
            ["Ocean tides are caused mainly by the gravitational pull of the Moon on the Earth's oceans.",
             "The Moon's gravity pulls water toward it, creating a bulge, and a second bulge forms on the far side.",
             "The Sun's gravity also causes tides, about half as strong as the Moon's effect."],
            ["Spring tides occur when the Sun and Moon align, producing higher high tides.",
             "Neap tides happen at quarter moons, when solar and lunar pulls partly cancel.",
             "Most coasts see two high tides and two low tides roughly every twenty-five hours."],
            ["Tide tables help sailors plan when to leave a harbour.",
             "Tidal pools host anemones, crabs and small fish between waves.",
             "Some power plants generate electricity from tidal currents."],
            ["Political tides turned against the government after the election.",
             "Ocean liners crossed the Atlantic in under a week in the 1930s."]),
    "103": ("symptoms of iron deficiency anemia",
            ["Iron deficiency anemia causes fatigue, weakness, pale skin and shortness of breath.",
             "Common symptoms of iron deficiency anemia include brittle nails, cold hands and dizziness.",
             "People with iron deficiency anemia may crave ice or starch, a symptom called pica."],
            ["Low iron reduces hemoglobin, the protein in red blood cells that carries oxygen.",
             "Heavy menstrual bleeding and pregnancy raise the risk of iron deficiency.",
             "A blood test measuring ferritin shows how much iron the body has stored."],
            ["Spinach, lentils and red meat are foods that contain iron.",
             "Anemia has several forms, including vitamin B12 deficiency.",
             "Doctors may recommend supplements after a routine check-up."],
            ["Cast iron pans should be dried quickly to prevent rust.",
             "The iron ore industry exports most of its output by sea."]),
    "104": ("how does a bill become law in the united states",
            ["A bill becomes law after it passes both the House and the Senate and the President signs it.",
             "If the President vetoes a bill, Congress can still make it law with a two-thirds vote in both chambers.",
             "A bill is introduced, reviewed in committee, debated and voted on before going to the other chamber."],
            ["Conference committees reconcile differences between House and Senate versions of a bill.",
             "A pocket veto happens when the President does not sign a bill and Congress has adjourned.",
             "Committees hold hearings where experts testify about a proposed bill."],
            ["The Library of Congress keeps records of federal legislation.",
             "State legislatures follow similar but separate procedures.",
             "Lobbyists try to influence members of Congress."],
            ["The restaurant bill was split evenly among the friends.",
             "Law school admissions depend on grades and test scores."]),
    "105": ("why is the sky blue",
            ["The sky is blue because air molecules scatter short blue wavelengths of sunlight more than red ones.",
             "Rayleigh scattering by nitrogen and oxygen molecules sends blue light in all directions across the sky.",
             "Blue light is scattered about five times more than red light, so scattered skylight looks blue."],
            ["At sunset light travels through more air, scattering away blue and leaving red and orange.",
             "Violet light is scattered even more, but our eyes are less sensitive to it.",
             "On Mars the sky looks butterscotch because of fine dust in the thin atmosphere."],
            ["Painters mix ultramarine pigment to depict skies.",
             "Clear skies are common in deserts.",
             "Airline pilots report weather conditions at cruising altitude."],
            ["Blue cheese gets its veins from Penicillium mould.",
             "The band played the blues until midnight."]),
    "106": ("how to lower blood pressure without medication",
            ["Blood pressure can be lowered without medication by reducing salt, exercising regularly and losing weight.",
             "Regular aerobic exercise such as brisk walking can lower systolic blood pressure by several points.",
             "Eating less sodium and more potassium-rich vegetables helps lower blood pressure naturally."],
            ["Limiting alcohol and quitting smoking also improve blood pressure.",
             "The DASH diet emphasises fruits, vegetables, whole grains and low-fat dairy.",
             "Chronic stress can raise blood pressure, and relaxation techniques may help."],
            ["Home monitors let patients check their blood pressure daily.",
             "Hypertension often has no symptoms.",
             "Doctors classify readings above 130 over 80 as elevated."],
            ["Water pressure in old buildings drops on upper floors.",
             "Medication errors are a leading cause of hospital incidents."]),
    "107": ("what is photosynthesis",
            ["Photosynthesis is the process by which plants use sunlight, water and carbon dioxide to make glucose and oxygen.",
             "In photosynthesis, chlorophyll captures light energy that drives the conversion of carbon dioxide into sugar.",
             "Photosynthesis converts light energy into chemical energy stored in carbohydrates."],
            ["The light-dependent reactions occur in the thylakoid membranes of chloroplasts.",
             "The Calvin cycle fixes carbon dioxide into three-carbon sugars.",
             "C4 and CAM plants have adaptations that reduce water loss in hot climates."],
            ["Forests absorb large amounts of carbon dioxide.",
             "Algae in the ocean produce much of the world's oxygen.",
             "Greenhouses control light and temperature for crops."],
            ["Photography uses light-sensitive sensors to record images.",
             "Synthesis of new materials is a goal of chemical engineering."]),
    "108": ("how does a heat pump work",
            ["A heat pump moves heat from outside air or ground into a building using a refrigerant cycle.",
             "The refrigerant absorbs heat as it evaporates outdoors and releases it when compressed and condensed indoors.",
             "A heat pump uses a compressor and a reversing valve to heat in winter and cool in summer."],
            ["Ground-source heat pumps exchange heat with soil that stays at a stable temperature.",
             "Efficiency is measured by the coefficient of performance, often three or more.",
             "Heat pumps lose capacity in very cold weather unless designed for it."],
            ["Some governments offer grants for installing heat pumps.",
             "Heating accounts for much of household energy use.",
             "Installers size systems based on building insulation."],
            ["The pump at the petrol station was out of order.",
             "Heat waves are becoming more frequent in summer."]),
    "109": ("causes of the french revolution",
            ["The French Revolution was caused by a fiscal crisis, unfair taxation and resentment of aristocratic privilege.",
             "Bread shortages and high prices after poor harvests fuelled anger that led to the French Revolution.",
             "Enlightenment ideas about rights and popular sovereignty helped cause the French Revolution."],
            ["The Estates-General met in 1789 for the first time since 1614.",
             "France's debt grew sharply after financing the American War of Independence.",
             "The storming of the Bastille on 14 July 1789 became a symbol of the revolution."],
            ["Versailles was the seat of the French court.",
             "Napoleon later rose to power as First Consul.",
             "Historians still debate the revolution's legacy."],
            ["The industrial revolution began in British textile mills.",
             "French cuisine is known for its sauces."]),
    "110": ("how do noise cancelling headphones work",
            ["Noise cancelling headphones use microphones to measure outside sound and play an inverted wave that cancels it.",
             "Active noise cancellation generates anti-noise, a sound wave in opposite phase, so the two waves cancel out.",
             "The headphones' processor continuously adjusts the anti-noise signal to the incoming low-frequency noise."],
            ["Active cancellation works best on steady low sounds such as engine hum.",
             "Passive isolation from ear cushions blocks higher frequencies.",
             "Feedforward and feedback microphones are combined in hybrid designs."],
            ["Headphone battery life ranges from twenty to forty hours.",
             "Many travellers wear headphones on long flights.",
             "Some models offer a transparency mode."],
            ["Noise from the construction site annoyed the neighbours.",
             "Bluetooth pairing lets phones connect to speakers."]),
    "111": ("what is the difference between a virus and a bacterium",
            ["Bacteria are living single-celled organisms, while viruses are smaller particles that need a host cell to reproduce.",
             "Antibiotics kill bacteria but do not work against viruses, which lack their own metabolism.",
             "A virus is genetic material in a protein coat, whereas a bacterium has a cell wall, ribosomes and its own DNA."],
            ["Many bacteria are harmless or helpful, such as those in the gut.",
             "Viruses cause illnesses such as influenza and the common cold.",
             "Bacteria reproduce by binary fission."],
            ["Microscopes revealed microbes in the seventeenth century.",
             "Hand washing reduces the spread of infections.",
             "Laboratories grow cultures on agar plates."],
            ["A computer virus spreads through email attachments.",
             "The difference between weather and climate is timescale."]),
    "112": ("how to make sourdough starter",
            ["To make a sourdough starter, mix equal weights of flour and water and feed it daily for about a week.",
             "A sourdough starter is made by letting flour and water ferment with wild yeast and lactic acid bacteria.",
             "Discard part of the starter and add fresh flour and water each day until it doubles reliably."],
            ["Whole grain rye flour often gets a starter going faster.",
             "A warm spot around 24 degrees Celsius speeds fermentation.",
             "A mature starter smells pleasantly sour and is bubbly."],
            ["Sourdough bread has a chewy crust.",
             "Bakers share starters that are decades old.",
             "San Francisco is famous for its sourdough."],
            ["Starter motors crank car engines.",
             "How to make friends in a new city is a common question."]),
    "113": ("what causes earthquakes",
            ["Earthquakes are caused by the sudden release of stress when rocks slip along a fault.",
             "Most earthquakes occur at tectonic plate boundaries where plates grind past, collide or separate.",
             "Stress builds as plates move, and when friction is overcome the rock ruptures, sending out seismic waves."],
            ["The Richter and moment magnitude scales measure earthquake size.",
             "Aftershocks follow large earthquakes for weeks or months.",
             "Volcanic activity and human activities such as fluid injection can also trigger quakes."],
            ["Japan has strict building codes for seismic safety.",
             "Seismographs record ground motion.",
             "Tsunami warnings are issued after undersea quakes."],
            ["The news caused an earthquake in the stock market.",
             "Faults in the wiring caused the fire."]),
    "114": ("benefits of learning a second language",
            ["Learning a second language improves memory, attention and problem-solving skills.",
             "Bilingual people can switch tasks more easily and may delay the onset of dementia.",
             "A second language opens career opportunities and helps people understand other cultures."],
            ["Children pick up pronunciation more easily than adults.",
             "Immersion and daily practice speed up language learning.",
             "Spaced repetition apps help learners remember vocabulary."],
            ["Spanish and Mandarin have many native speakers.",
             "Schools often teach a foreign language from age eleven.",
             "Translators work between two or more languages."],
            ["Programming languages such as Python are popular with beginners.",
             "The benefits of a healthy breakfast are widely discussed."]),
    "115": ("how do solar panels generate electricity",
            ["Solar panels generate electricity when sunlight knocks electrons loose in silicon cells, creating a current.",
             "Photovoltaic cells use the photoelectric effect at a p-n junction to turn light into direct current.",
             "An inverter converts the direct current from solar panels into alternating current for the home."],
            ["Monocrystalline panels are more efficient than polycrystalline ones.",
             "Panel output falls slightly as temperature rises.",
             "Batteries store solar energy for use at night."],
            ["Solar farms cover large areas in sunny regions.",
             "Panel prices have fallen sharply over two decades.",
             "Rooftop installations need a structural check."],
            ["The solar system has eight planets.",
             "Electricity bills rise in winter."]),
}


def tokens(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def passages():
    rng = random.Random(7)
    docs, qrels = [], []
    filler = [d for t in TOPICS.values() for d in t[4]]
    for qid, (query, answers, details, mentions, decoys) in TOPICS.items():
        made = []
        for i, a in enumerate(answers):
            made.append((a + " " + details[i], 3))
            made.append((a, 3))
        for i, d in enumerate(details):
            made.append((d + " " + details[(i + 1) % 3], 2))
            made.append((d + " " + mentions[i], 2))
        for i, m in enumerate(mentions):
            made.append((m + " " + mentions[(i + 1) % 3], 1))
            made.append((m + " " + rng.choice(filler), 1))
        for dc in decoys:
            made.append((dc, 0))
            made.append((dc + " " + rng.choice(filler), 0))
        for text, grade in made:
            docno = f"P{len(docs) + 1:04d}"
            docs.append((docno, text))
            qrels.append((qid, docno, grade))
    rng.shuffle(docs)
    return docs, qrels


def bm25_run(docs, query, k1=0.9, b=0.4, depth=50):
    tf = [Counter(tokens(t)) for _, t in docs]
    avg = sum(sum(c.values()) for c in tf) / len(tf)
    df = Counter(w for c in tf for w in c)
    n = len(docs)
    out = []
    for (docno, _), c in zip(docs, tf):
        length = sum(c.values())
        s = sum(math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5)) * c[w] * (k1 + 1) /
                (c[w] + k1 * (1 - b + b * length / avg)) for w in tokens(query) if c[w])
        if s > 0:
            out.append((docno, s))
    return sorted(out, key=lambda x: (-x[1], x[0]))[:depth]


def qld_run(docs, query, mu=1000.0, depth=50):
    tf = [Counter(tokens(t)) for _, t in docs]
    coll = Counter()
    for c in tf:
        coll.update(c)
    total = sum(coll.values())
    out = []
    for (docno, _), c in zip(docs, tf):
        length = sum(c.values())
        words = [w for w in tokens(query) if coll[w]]
        if not any(c[w] for w in words):
            continue
        s = sum(math.log((c[w] + mu * coll[w] / total) / (length + mu)) for w in words)
        out.append((docno, s))
    return sorted(out, key=lambda x: (-x[1], x[0]))[:depth]


DOMAINS = {
    "math": ["Solve for x: 3x + 7 = 22", "What is the derivative of x^3 sin x?",
             "Prove that the square root of 2 is irrational", "How many ways can 5 books be arranged on a shelf?",
             "Integrate 1/(1+x^2) from 0 to 1"],
    "code": ["Write a Python function that reverses a linked list", "Explain the difference between a process and a thread",
             "Fix the off-by-one error in this binary search", "Write a SQL query for the top 3 salaries per department",
             "How do I parse JSON in Rust with serde?"],
    "medicine": ["What are the side effects of metformin?", "How is type 1 diabetes different from type 2?",
                 "What does an elevated troponin level indicate?", "When should a fever in a toddler be treated?",
                 "What is the first-line treatment for hypertension?"],
    "law": ["What is the difference between a misdemeanour and a felony?", "Can a landlord keep a security deposit for wear and tear?",
            "What makes a contract legally binding?", "How does copyright fair use work?",
            "What rights do employees have during a layoff?"],
    "writing": ["Write a haiku about autumn rain", "Draft a polite email declining a job offer",
                "Write the opening paragraph of a mystery novel", "Suggest a title for a blog post about minimalism",
                "Rewrite this sentence to sound more formal"],
    "history": ["Why did the Roman Empire fall?", "What started the First World War?",
                "Who built the Great Wall of China and why?", "What was the significance of the Magna Carta?",
                "How did the printing press change Europe?"],
}
LLMS = ["mathstral-7b", "qwen-math-72b", "codellama-34b", "deepseek-coder-33b", "meditron-70b", "biomistral-7b",
        "saul-7b-legal", "writer-palmyra-20b", "llama-3-70b", "mixtral-8x7b", "gemma-2b", "phi-2"]
SKILL = {  # mean grade per domain (0-3); generalists are decent everywhere, small models weak
    "mathstral-7b": {"math": 2.4}, "qwen-math-72b": {"math": 2.8}, "codellama-34b": {"code": 2.4},
    "deepseek-coder-33b": {"code": 2.8, "math": 1.8}, "meditron-70b": {"medicine": 2.7},
    "biomistral-7b": {"medicine": 2.2}, "saul-7b-legal": {"law": 2.5}, "writer-palmyra-20b": {"writing": 2.7},
    "llama-3-70b": {d: 1.9 for d in DOMAINS}, "mixtral-8x7b": {d: 1.7 for d in DOMAINS},
    "gemma-2b": {d: 0.7 for d in DOMAINS}, "phi-2": {"math": 1.3, "code": 1.3},
}


def llm_sample():
    rng = random.Random(11)
    topics, qrels = [], []
    for d, queries in DOMAINS.items():
        for i, text in enumerate(queries):
            qid = f"{d}-{i + 1}"
            topics.append((qid, text))
            for llm in LLMS:
                mean = SKILL[llm].get(d, 0.9)
                grade = max(0, min(3, round(rng.gauss(mean, 0.7))))
                qrels.append((qid, llm, grade))
    return topics, qrels


ANSWER_STYLES = {  # grade -> openings of an answer of that quality
    3: ["Here is a complete and correct answer, checked step by step:", "The full solution, verified:",
        "A precise, well-supported answer:"],
    2: ["A mostly correct answer, with one step left out:", "Roughly right, though not fully explained:",
        "A reasonable answer with a minor gap:"],
    1: ["I am not sure, but possibly:", "A partial guess that may be wrong:", "This is unclear to me; perhaps:"],
    0: ["Sorry, I cannot help with that.", "I do not know.", "Error: the question could not be answered."],
}


def llm_responses(topics, qrels):
    """A templated answer per (query, LLM), its wording drawn from its grade's styles."""
    rng, text = random.Random(12), dict(topics)
    return [(q, llm, f"{rng.choice(ANSWER_STYLES[g])} {text[q]}" if g else rng.choice(ANSWER_STYLES[0]))
            for q, llm, g in qrels]


def main():
    docs, qrels = passages()
    p = OUT / "passages"
    p.mkdir(parents=True, exist_ok=True)
    (p / "topics.tsv").write_text("".join(f"{q}\t{t[0]}\n" for q, t in TOPICS.items()))
    (p / "corpus.jsonl").write_text("".join(json.dumps({"id": d, "contents": t}) + "\n" for d, t in docs))
    (p / "qrels.txt").write_text("".join(f"{q} 0 {d} {g}\n" for q, d, g in sorted(qrels)))
    for name, fn in (("bm25", bm25_run), ("qld", qld_run)):
        lines = []
        for qid, (query, *_) in TOPICS.items():
            lines += [f"{qid} Q0 {d} {i + 1} {s:.6f} {name}\n" for i, (d, s) in enumerate(fn(docs, query))]
        (p / f"{name}.run").write_text("".join(lines))
    topics, llm_qrels = llm_sample()
    q = OUT / "llm"
    q.mkdir(parents=True, exist_ok=True)
    (q / "topics.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in topics))
    (q / "qrels.txt").write_text("".join(f"{a} 0 {b} {g}\n" for a, b, g in llm_qrels))
    (q / "llms.txt").write_text("".join(f"{m}\n" for m in LLMS))
    (q / "responses.jsonl").write_text("".join(json.dumps({"qid": a, "llm": b, "response": r}) + "\n"
                                               for a, b, r in llm_responses(topics, llm_qrels)))


if __name__ == "__main__":
    main()
