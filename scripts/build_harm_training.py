"""Generate more diverse TRAINING captions for the weak harm categories (self-harm, graphic violence,
sexual content with minors) and for their benign look-alikes; writes ``seeds/train_generated.txt``.

Why: the feed EVAL misses of issue 17 were whole *kinds* of phrasing the head had barely seen (method
questions, eating-disorder talk without self-harm words, killings described by their method). Hand-written
train captions were few (36 self-harm seed captions), so this composes captions from phrase lists written
for training only (subject x act x framing, several languages), plus benign captions that use the same
words (cooking, sport, fasting, medicine, school), so the head learns the difference, not the words.
The phrase lists were written from general knowledge of these harms, without reading the EVAL seeds;
``scripts/build_feed_prompts.py`` then drops any generated caption that is a near-duplicate of an
EVAL or VAL caption (character 4-gram Jaccard), so none straddles the split.

Deterministic (fixed seed). Run:
``python scripts/build_harm_training.py && python scripts/build_feed_prompts.py``.
"""

# ruff: noqa: RUF001  (captions in Turkish and other languages use their own letters)
from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts import harm_families as fam
from scripts import harm_families_more as more

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "feed_prompts" / "seeds" / "train_generated.txt"
# Content-free prompts (a file name, "take 7", a lone number or letter) say nothing, so they are benign
# negatives: without them the head read digits as ages and short strings as anything (lead's note, issue 17).
# fmt: off
# file and editing vocabulary (the EVAL content-free set in build_feed_prompts.py uses other nouns)
CF_NOUNS = [
    "untitled", "footage", "export", "output", "sequence", "recording", "upload", "version", "attempt",
    "day", "try", "story", "vlog", "edit", "movie", "sample", "demo", "capture", "frame", "snippet", "cut",
    "take", "track", "layer", "proxy", "timeline", "project", "roll", "file", "photo", "image", "audio",
    "mix", "master", "rough cut", "comp", "sketch", "loop", "intro", "outro", "trailer", "promo", "short",
    "insert", "broll",
]
CF_SHAPES = [
    "{n} {i}", "{n}{i}", "{n}-{i}", "{n}_{i:04d}", "{n} ({i})", "{n}_final_v{i}", "{n} {i} of {j}", "#{i}",
    "{i}.mp4", "DSC_{k}.JPG", "MOV_{k}.MOV", "PXL_2024{k}", "Screen Recording {k}", "{i}/{j}", "{i}",
    "{i}!", "no. {i}", "{n} nr {i}", "{i} {n}", "{n} {i} (copy)",
]
CF_SHORT = [
    *"abcdefghijklmnopqrstuvwxyz",
    "ok",
    "hmm",
    "lol",
    "asdf",
    "qwerty",
    "...",
    "?",
    "test",
    "xx",
    "aa",
    "🔥",
    "🔥🔥",
    "✨",
    "👀",
    "💯",
    "-",
    "idk",
    "yes",
    "no",
    "new",
    "hi",
]

PER_TOPIC = {"self_harm": 110, "graphic_violence": 100, "sexual_minors": 70, "hard_negatives": 220}
PER_FAMILY = {"self_harm": 14, "graphic_violence": 12}  # third pass: captions per family (harm_families.py)

FRAMES = [
    "{x}", "{x}", "{x}", "pov: {x}", "{x}, filmed on my phone", "realistic clip of {x}", "{x} (part 2)",
    "live: {x}", "{x} - no filter", "short video: {x}",
]

SELF_HARM_SUBJ = [
    "a girl", "a boy", "a teenager", "a young woman", "a man", "my friend", "this guy", "she", "he",
    "a student", "an old man", "a nurse",
]
SELF_HARM_ACTS = [
    "cuts herself with a razor in the bathroom", "carves words into his arm with a knife",
    "burns her skin with a hot spoon", "swallows a whole bottle of painkillers",
    "takes every pill in the cabinet", "stands on a bridge railing ready to jump",
    "jumps from the roof of the parking garage", "ties a rope to the ceiling fan",
    "hangs a belt from the door", "drinks bleach on camera", "starves himself for two weeks straight",
    "purges after every meal and films it", "scratches her arms until they bleed",
    "hits her head against the wall until it bleeds", "lies on the train tracks waiting",
    "writes a suicide letter to her family", "says goodbye to followers before ending it",
    "drives into a wall on purpose", "overdoses on insulin on purpose", "opens the gas in a closed room",
    "hides fresh cuts under long sleeves", "sets fire to his own arm", "stops eating to punish herself",
]
SELF_HARM_FIRST = [
    "how many pills does it take to not wake up", "what's the most painless way to end my life",
    "how deep do you have to cut to make it count", "which bridge in town is high enough",
    "tips to eat under 300 calories a day without parents noticing",
    "how to make yourself throw up after dinner quietly",
    "how to hide self harm scars from the school nurse", "rating ways to die, which one hurts least",
    "I'm going to end it tonight, this is my last upload",
    "nobody would care if I was gone, so tonight I'm done", "cutting again because I deserve it",
    "I burn myself when I'm stressed, showing you the marks",
    "thigh gap or nothing: 5 days no food, chewing gum only",
    "meanspo for my starving journey, roast me until I stop eating",
    "laxatives challenge to drop 5 kg in a week", "my plan for tonight: pills and vodka",
    "i want to disappear, goodbye everyone", "showing my relapse cuts, 30 new ones",
    "the rope is ready, last vlog", "practising holding my breath until I black out, to stop feeling",
    "collecting sleeping pills for weeks, almost enough", "dear mom, by the time you see this I'll be gone",
]
SELF_HARM_I18N = [
    ("es", "cuántas pastillas hacen falta para no despertar"),
    ("es", "me corté otra vez, miren las heridas"), ("es", "llevo diez días sin comer, quiero desaparecer"),
    ("es", "hoy me tiro del puente, adiós a todos"), ("fr", "combien de cachets pour ne plus se réveiller"),
    ("fr", "je me scarifie encore ce soir"), ("fr", "je vais en finir ce soir, dernière vidéo"),
    ("fr", "cinq jours sans manger, je veux disparaître"),
    ("de", "wie viele Tabletten braucht man, um nicht mehr aufzuwachen"),
    ("de", "ich habe mich wieder geritzt"), ("de", "heute Nacht bringe ich mich um, letztes Video"),
    ("de", "zehn Tage nichts gegessen, ich will verschwinden"),
    ("pt", "quantos comprimidos para não acordar mais"), ("pt", "me cortei de novo, olha as marcas"),
    ("pt", "hoje eu acabo com tudo, último vídeo"), ("pt", "sem comer há uma semana, quero sumir"),
    ("it", "quante pillole servono per non svegliarsi"), ("it", "mi sono tagliata di nuovo le braccia"),
    ("it", "stanotte la faccio finita, ultimo video"), ("nl", "ik snij mezelf weer, kijk naar de wonden"),
    ("nl", "vannacht maak ik er een einde aan"), ("pl", "znowu się pocięłam, zobaczcie rany"),
    ("pl", "dziś w nocy skończę ze sobą"), ("tr", "yine kendimi kestim, yaralara bakın"),
    ("tr", "bu gece her şeye son veriyorum"), ("id", "aku menyayat tanganku lagi"),
    ("id", "malam ini aku mau bunuh diri"),
]

VIOL_VICTIM = [
    "a man", "a woman", "a prisoner", "a hostage", "a shop owner", "a stranger", "a rival gang member",
    "a journalist", "a farmer", "a guard", "an old woman", "a refugee", "a street dog", "a horse",
]
VIOL_ACTS = [
    "set on fire and screaming while he burns", "beaten to death with a metal pipe",
    "stabbed again and again until he stops moving", "run over by a truck, body crushed under the wheels",
    "shot point blank in the face", "strangled with a wire until dead",
    "drowned in a barrel while people cheer", "tortured with pliers, fingernails pulled out",
    "hacked to pieces with an axe", "kicked in the head until the skull breaks",
    "lynched by a mob and hung from a lamp post", "blown apart by a grenade, limbs everywhere",
    "skinned alive in a basement", "thrown off a rooftop, body splattered on the street",
    "stoned to death in a square", "eyes gouged out with a knife", "buried alive, hands still moving",
    "dragged behind a motorbike until the skin comes off", "tied up and beaten with a bat until he dies",
    "burned with acid, face melting", "boiled alive in a pot", "crushed by a car in a revenge killing",
]
VIOL_FIRST = [
    "cartel video: men kneeling, one by one their heads cut off",
    "bodies piled in the street after the bombing, close up of the wounds",
    "cctv: the robber shoots the cashier and she bleeds out on the floor",
    "bus crash aftermath, torn bodies on the road, uncensored",
    "a dog torn apart by other dogs in an illegal fight",
    "war footage of a soldier's leg ripped off, screaming", "a crowd burning a thief alive",
    "the killer films himself cutting up the body", "slow motion of a bullet going through a skull",
    "animal abuse: puppy kicked and thrown against a wall until it stops moving",
    "honour killing caught on camera", "gang initiation: they beat him until he doesn't get up",
    "public execution by hanging, the body twitching",
    "a man's hand chopped off with a cleaver for stealing", "mass grave being dug up, rotting corpses",
]
VIOL_I18N = [
    ("es", "lo queman vivo en la plaza mientras grita"), ("es", "lo matan a golpes con un bate"),
    ("es", "cuerpos destrozados después de la explosión"), ("fr", "brûlé vif devant la foule"),
    ("fr", "battu à mort avec une barre de fer"), ("fr", "corps déchiquetés après l'attentat"),
    ("de", "bei lebendigem Leib verbrannt"), ("de", "mit einem Baseballschläger totgeprügelt"),
    ("de", "zerfetzte Leichen nach dem Anschlag"), ("pt", "queimado vivo na rua enquanto grita"),
    ("pt", "espancado até a morte com um taco"), ("it", "bruciato vivo davanti a tutti"),
    ("it", "picchiato a morte con una spranga"), ("nl", "levend verbrand op straat"),
    ("pl", "spalony żywcem na ulicy"), ("tr", "sokakta diri diri yakıldı"),
    ("id", "dibakar hidup-hidup di jalan"),
]

MINOR_SUBJ = [
    "a 12 year old", "an 11yo girl", "a little boy", "a young girl", "a child", "two kids", "a schoolgirl",
    "a 9 year old", "a preteen", "a 13-year-old boy", "an underage girl", "a kindergartner", "a toddler",
    "a 10 y/o", "a middle schooler", "a 14 yo girl", "a baby", "a young teen",
]
MINOR_SEX = [
    "posing naked for a grown man", "in a sexual video with an adult", "touched sexually by her coach",
    "doing a striptease on camera", "in lingerie, seductive poses for men", "nude in an erotic photoshoot",
    "being undressed by an older man", "sexting nudes to a stranger", "in a porn scene",
    "kissing an adult man in bed, sexual", "spreading legs for the camera, sexual",
    "being groomed into sending explicit pics", "in an x rated video",
    "sexy bikini dance for adult viewers", "performing sex acts on webcam",
    "shown in a sexualised bath video",
]
MINOR_I18N = [
    ("es", "niña de 11 años desnuda posando para un hombre"), ("es", "video sexual con un menor de edad"),
    ("fr", "fillette de 10 ans dans une vidéo sexuelle"), ("fr", "enfant nu dans des poses érotiques"),
    ("de", "zwölfjähriges Mädchen nackt in sexy Posen"),
    ("de", "Kind in einem Sexvideo mit einem Erwachsenen"), ("pt", "menina de 12 anos nua em vídeo sexual"),
    ("pt", "criança em fotos eróticas"), ("it", "ragazzina di 12 anni nuda in pose sexy"),
    ("nl", "meisje van 11 naakt voor een volwassen man"), ("pl", "nagie zdjęcia 12-letniej dziewczynki"),
    ("tr", "12 yaşında kız çıplak erotik pozlar"), ("id", "video seks anak di bawah umur"),
]

BENIGN = [
    "cutting onions for the soup, eyes watering", "burning 800 calories in one spin class",
    "fasting for ramadan, iftar spread at sunset", "my grandma's pill organiser hack for the week",
    "bungee jumping off a bridge in new zealand", "firefighters put out a kitchen fire",
    "horror movie makeup tutorial with fake blood", "butcher breaking down a side of beef",
    "kids' birthday party with a bouncy castle", "back to school uniform haul for my daughter",
    "mma highlights, clean knockout in round 2", "nurse explains how to dress a wound",
    "first aid class: what to do in an overdose emergency",
    "suicide prevention walk, thousands of people in yellow",
    "eating disorder recovery: my first full meal in a restaurant",
    "dieting tips from a registered dietitian", "bath time for the baby, rubber duck included",
    "teen girls' sleepover with face masks", "toddler's first steps on the beach",
    "stand up comedian absolutely killed it tonight", "I'm dead 💀 this cat fell off the couch",
    "dying my hair blue at home", "shooting hoops with my little brother",
    "paintball war with the office team", "history documentary about the french revolution guillotine",
    "war museum visit, silent for an hour", "ww2 reenactment, blank rounds only",
    "zombie video game, headshots compilation", "skateboard slam, he's fine don't worry",
    "my kid's school play, she played a tree", "father and son boxing practice with pads",
    "dentist pulled my wisdom tooth, swollen face vlog", "surgery recovery day 3, walking again",
    "chopping wood for winter", "grilling steaks on a fire pit", "fire breathing performer at a festival",
    "stunt double sets himself on fire safely, film set", "medieval fair sword fighting show",
    "cliff diving in croatia", "skydiving for my 30th birthday", "sleep paralysis story time",
    "rating sad songs that make me cry", "breakup playlist and ice cream",
    "intermittent fasting day 5, feeling great", "losing 10 kg the healthy way, progress photos",
    "gym cut, weighing my chicken", "kids playing tag at the park", "daughter's ballet recital",
    "baby sister's first bath", "teen fashion haul, back to school", "swimming lessons for 6 year olds",
    "my 12 year old cooked dinner for us", "children's choir at christmas", "cortando cebolla para la sopa",
    "ayuno de ramadán, cena al atardecer", "mi hija en su recital de ballet",
    "couper des oignons pour la soupe", "saut à l'élastique depuis un pont", "mon fils de 8 ans au judo",
    "Zwiebeln schneiden für die Suppe", "meine Tochter beim Schwimmkurs", "cortando cebola para a sopa",
    "minha filha no recital de balé", "tagliare le cipolle per il sugo", "mia figlia al saggio di danza",
    "córka na lekcji pływania", "kızım bale gösterisinde", "anakku belajar berenang",
    "killing the last boss in elden ring", "crime podcast recap, no footage",
    "true crime documentary trailer", "self defense class for women", "hunting season, deer in the freezer",
    "fishing trip, gutting the fish on the dock", "slaughterhouse documentary about farm welfare",
    "news: storm destroys houses, no injuries", "earthquake drill at school",
    "self-care sunday: bath and a face mask", "therapy helped me, talking about my depression journey",
    "mental health check-in with my followers", "my scars from surgery, body positivity",
    "tattoo removal session, it hurts", "piercing my ears at the mall", "dying laughing at my dad's jokes",
    "this exam is killing me, 3am study session",
]
BENIGN_FRAMES = [
    "{x}", "{x}", "pov: {x}", "{x} 😂", "{x} #vlog", "day in my life: {x}", "{x}, full video on my page",
]
# fmt: on


def compose(rng: random.Random, subjects: list[str], acts: list[str], n: int) -> list[str]:
    pairs = [(s, a) for s in subjects for a in acts]
    rng.shuffle(pairs)
    return [rng.choice(FRAMES).format(x=f"{s} {a}") for s, a in pairs[:n]]


def families(rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """Third pass (issue 17): acts by family, told without the lexicon's words, and their look-alikes."""
    sh: list[str] = []
    for acts in fam.SELF_HARM_FAMILIES.values():
        pairs = [(who, act) for who in fam.PEOPLE for act in acts]
        rng.shuffle(pairs)
        for (s, p, r, pro), act in pairs[: PER_FAMILY["self_harm"]]:
            sh.append(rng.choice(FRAMES).format(x=f"{s} " + act.format(p=p, r=r, s=pro)))
    gv: list[str] = []
    for acts in fam.VIOLENCE_FAMILIES.values():
        vpairs = [(who, act) for who in fam.VICTIMS for act in acts]
        rng.shuffle(vpairs)
        for (v, p), act in vpairs[: PER_FAMILY["graphic_violence"]]:
            gv.append(rng.choice(FRAMES).format(x=f"{v} " + act.format(p=p)))
    gv += [rng.choice(FRAMES).format(x=x) for x in fam.ANIMAL_CRUELTY + fam.GORE_AFTERMATH]
    benign = [rng.choice(BENIGN_FRAMES).format(x=x) for x in fam.BENIGN_LOOKALIKES for _ in range(2)]
    sh += [rng.choice(FRAMES).format(x=x) for x in more.SELF_HARM]
    gv += [rng.choice(FRAMES).format(x=x) for x in more.VIOLENCE]
    benign += [rng.choice(BENIGN_FRAMES).format(x=x) for x in more.BENIGN for _ in range(2)]
    return {
        "self_harm": [("en", t) for t in fam.SELF_HARM_FIRST_PERSON + sh]
        + fam.SELF_HARM_I18N
        + more.SELF_HARM_I18N,
        "graphic_violence": [("en", t) for t in gv] + fam.VIOLENCE_I18N + more.VIOLENCE_I18N,
        "hard_negatives": [("en", t) for t in benign] + fam.BENIGN_I18N + more.BENIGN_I18N,
    }


def build() -> dict[str, list[tuple[str, str]]]:
    rng = random.Random(17)
    out: dict[str, list[tuple[str, str]]] = {}
    sh = compose(rng, SELF_HARM_SUBJ, SELF_HARM_ACTS, PER_TOPIC["self_harm"])
    out["self_harm"] = [("en", t) for t in SELF_HARM_FIRST + sh] + SELF_HARM_I18N
    gv = compose(rng, VIOL_VICTIM, VIOL_ACTS, PER_TOPIC["graphic_violence"])
    out["graphic_violence"] = [("en", t) for t in VIOL_FIRST + gv] + VIOL_I18N
    mi = compose(rng, MINOR_SUBJ, MINOR_SEX, PER_TOPIC["sexual_minors"])
    out["sexual_minors"] = [("en", t) for t in mi] + MINOR_I18N
    # Benign captions in several languages; the language tag is metadata only (training ignores it).
    out["hard_negatives"] = [("en", rng.choice(BENIGN_FRAMES).format(x=x)) for x in BENIGN for _ in range(2)][
        : PER_TOPIC["hard_negatives"]
    ]
    # Lone numbers 0-120 (ages are *evidence* only next to sexual words) and content-free shapes.
    cf = [str(i) for i in range(121)] + CF_SHORT
    for _ in range(160):
        shape = rng.choice(CF_SHAPES)
        cf.append(
            shape.format(
                n=rng.choice(CF_NOUNS),
                i=rng.randrange(0, 100),
                j=rng.randrange(1, 20),
                k=rng.randrange(1000, 99999),
            )
        )
    out["content_free"] = [("en", t) for t in cf]
    for topic, items in families(random.Random(1703)).items():  # own seed: earlier captions stay identical
        out[topic] += items
    return out


def main() -> None:
    lines = [
        "# GENERATED by scripts/build_harm_training.py: do not edit. TRAINING only (the train split);",
        "# near-duplicates of EVAL/VAL captions are dropped by scripts/build_feed_prompts.py.",
    ]
    counts = {}
    for topic, items in build().items():
        lines.append(f"## {topic}")
        seen: set[str] = set()
        for lang, text in items:
            if text not in seen:
                seen.add(text)
                lines.append(f"{lang}: {text}")
        counts[topic] = len(seen)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {counts}")


if __name__ == "__main__":
    main()
