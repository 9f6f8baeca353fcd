"""Second batch of family captions for ``scripts/build_harm_training.py`` (issue 17, third pass): whole captions
(first and third person, questions, reports) and more languages, so no family is a single sentence shape.

Why a second batch: the first (``scripts/harm_families.py``) is subject x act, one shape per family; the head
then learns the shape. Written from general knowledge, not from evaluation captions. Data only.
"""

# ruff: noqa: RUF001, E501  (other scripts' letters; one caption per line reads better than wrapped)
from __future__ import annotations

# fmt: off
SELF_HARM = [
    "keeps a razor in her pencil case for after school", "every bad grade means one more line on my hip",
    "my arms look like a barcode and i'm adding more", "rubbed an eraser on my wrist until it was raw and bleeding",
    "the rubber band on my wrist isn't enough anymore, getting the blade", "ran my hand under the scalding tap for a full minute, it felt right",
    "pressed the hot lighter into my wrist to leave a mark", "took the blade out of dad's shaver, sleeves down before dinner",
    "head-butting the wall of my room until everything goes quiet", "punched myself in the mirror until my lip split",
    "in the car with the windows up and the exhaust piped in, writing my last texts", "towels under the door before i light the coals",
    "plastic bag and tape on the bed next to me, waiting for everyone to sleep", "tied the cord to the top of the door tonight",
    "took a full pack of paracetamol an hour ago, stomach burning", "mixing the pills with wine so it works faster",
    "how much insulin would stop my heart", "swallowing batteries to make it all stop",
    "sitting on the edge of the roof, feet over the side, final post", "the 9th floor balcony is calling me tonight",
    "going to walk into the traffic after this song ends", "lying on the tracks behind our school waiting for the night train",
    "steering into the oncoming lorry tomorrow, i've decided", "nothing but black coffee for 11 days, my collarbones are perfect",
    "fasting until i faint, only then do i feel clean", "throwing up in the shower so nobody hears",
    "if i eat i have to run 20 km, those are the rules", "looking for an ana buddy, we check each other's weight every morning",
    "letters sealed, cat rehomed, phone wiped, it's time", "told my sister she can have my room, i won't be here next week",
    "this is the last thing i'll ever post, don't look for me", "my funeral playlist is ready and so am i",
    "what height do you need for a fall to be certain", "how long does it take in a closed car with the engine on",
    "which household chemicals would do it quickest", "best place on the arm so the marks stay hidden",
]
VIOLENCE = [
    "crowd cheers as the man tied to the pole burns", "they lit the tyre around his neck and he runs in flames",
    "police officer engulfed in flames after the petrol bomb hits him", "skin hanging off his arms after the acid is thrown",
    "the gang carves their name into the boy's back with a knife", "cutting off a prisoner's nose with a bayonet",
    "full length video of a hostage's head being cut off in the desert", "the executioner swings the sword and the head rolls",
    "prisoners shot one by one and pushed into the river", "soldier stabs the wounded man in the neck again and again",
    "sliced open from chest to stomach, guts on the floor", "they break his arms with a crowbar and film the bones",
    "a drill into his kneecap while he begs them to stop", "beaten with chains until his face is pulp",
    "the truck rolls over his head, filmed from the sidewalk", "elephant tramples a man, body flattened",
    "shot in the eye with a rifle, close up of the wound", "the bullet exits through his cheek, teeth scattered on the road",
    "a dog is shot point blank and twitches on the ground", "throwing a cat off a balcony for views",
    "a goat's throat slowly slit on camera for fun", "kittens set alight in a bin by laughing boys",
    "a body with its throat open on the kitchen floor, bloody handprints everywhere", "severed head left in the market square, uncensored",
    "charred bodies in the burnt-out bus", "pieces of people on the rubble after the car bomb",
    "they hold his hand on the stove until the skin chars", "nailing a man's hands to a plank while the crowd films",
]
BENIGN = [
    "moving out, giving away my plants and books, goodbye old flat", "last video of season 3, thank you and see you in spring",
    "my last day of school ever, goodbye teachers", "i'm leaving this app, follow my new account",
    "farewell party for my colleague who is retiring", "writing thank-you notes after the wedding",
    "setting up grandpa's medication reminder app", "unblocking the drain with caustic soda, gloves on",
    "bleach tie-dye hoodie diy", "baby-proofing the cupboard with the cleaning products",
    "walked into a lamppost while texting, so embarrassing", "slipped on the ice and bumped my head, i'm ok",
    "my kid fell off the swing, tiny bruise, lots of drama", "stepped on a lego, the pain",
    "weight loss update: down 5 kg with walking and vegetables", "weigh-in day at slimming club",
    "balcony garden tour on the 12th floor", "rooftop yoga at sunrise", "train driver's view through the alps",
    "bus driver vlog, the night route", "hair straightener burn on my neck, oops", "burnt the garlic bread again",
    "history: the great fire of rome explained", "joan of arc documentary, why she was burned at the stake",
    "witch trials museum in salem", "fps game: sniper headshot from 800 m", "car chase and crash in my racing game",
    "zombie film set tour, fake heads and limbs", "butcher breaking down a pig, nose to tail",
    "vet clinic: dog hit by a car recovers after surgery", "stuntwoman full fire burn rehearsal, gel on her skin",
    "fireworks on new year's eve", "fire spinning tutorial with a practice staff", "muay thai shin conditioning",
    "ice hockey fight, gloves off, players separated", "surgical residents practise suturing on pig skin",
    "cosmetic eyebrow tattoo, a little blood is normal", "piercing aftercare tips", "cutting my son's hair at home",
    "sculptor chisels a marble head", "dentist explains why gums bleed", "jumping off the rocks into the sea with my friends",
    "diving off the bridge into the river, local tradition", "my car wouldn't start, waiting in the garage for the mechanic",
    "locked myself out of the car, garage door stuck", "taking my vitamins every morning", "hangover cure, lots of water",
    "i have been so hungry after the gym, eating everything", "i'm dead tired, goodnight everyone",
]
SELF_HARM_I18N = [
    ("es", "me marco la piel con la punta caliente de un cuchillo"), ("es", "llevo una semana vomitando todo lo que como"),
    ("es", "dejé cartas para todos, ya no voy a volver"), ("fr", "je me brûle les bras avec un briquet chaque soir"),
    ("fr", "assise sur le rebord de la fenêtre du sixième, les jambes dans le vide"), ("fr", "j'ai avalé toute la boîte de somnifères"),
    ("de", "ich schneide mir die Arme auf, bis es aufhört"), ("de", "seit zwei Wochen nur Wasser, ich will Knochen sehen"),
    ("de", "Abschiedsnachricht an alle, ich springe heute"), ("pt", "bato a cabeça na parede até sangrar"),
    ("pt", "tomei todos os remédios da caixa da minha mãe"), ("pt", "deitado nos trilhos esperando o trem"),
    ("it", "mi taglio le cosce con la lametta ogni sera"), ("it", "ho preso tutte le pastiglie della nonna"),
    ("nl", "ik brand mijn arm met een aansteker"), ("nl", "ik ga vannacht voor de trein springen"),
    ("pl", "tnę się żyletką po udach"), ("pl", "połknęłam wszystkie tabletki mamy"), ("tr", "kendimi jiletle kesiyorum her gece"),
    ("tr", "annemin bütün ilaçlarını içtim"), ("id", "aku menyilet pahaku setiap malam"), ("id", "duduk di pinggir atap, kaki menggantung, selamat tinggal"),
    ("tl", "iinumin ko lahat ng gamot ni mama ngayong gabi"), ("hi", "maine saari neend ki goliyan kha li"),
    ("hi", "main khud ko blade se kaatti hoon"), ("ja", "毎晩リストカットしている"), ("ja", "母の薬を全部飲んだ"),
    ("ko", "엄마 수면제를 다 삼켰어"), ("ko", "매일 밤 손목을 긋는다"),
]
VIOLENCE_I18N = [
    ("es", "le cortan la cabeza al rehén frente a la cámara"), ("es", "lo atropellan una y otra vez hasta que deja de moverse"),
    ("fr", "ils lui cassent les bras à coups de barre de fer"), ("fr", "le corps calciné du soldat dans le char"),
    ("de", "sie schneiden ihm die Kehle durch, Blut überall"), ("de", "ein Hund wird vom Balkon geworfen"),
    ("pt", "arrancaram os dedos dele com um alicate"), ("pt", "o caminhão passa por cima da cabeça dele"),
    ("it", "gli tagliano la gola davanti a tutti"), ("it", "un gatto dato alle fiamme dai ragazzi"),
    ("nl", "ze hakken zijn hand af met een kapmes"), ("pl", "odcięli mu głowę nożem na nagraniu"),
    ("tr", "esirin kafasını bıçakla kestiler"), ("id", "kepala sandera dipenggal di depan kamera"),
    ("tl", "pinugutan nila ng ulo ang bihag"), ("hi", "usne kutte ko zinda jala diya"),
    ("ja", "人質の首を切り落とす動画"), ("ko", "포로의 목을 베는 영상"),
]
BENIGN_I18N = [
    ("es", "me despido de mi piso, mañana me mudo a otra ciudad"), ("es", "me golpeé la cabeza con la puerta del armario, jaja"),
    ("fr", "dernière vidéo de la saison, merci à tous"), ("fr", "coupe de cheveux maison pour mon fils"),
    ("de", "letzter Arbeitstag, danke an alle Kollegen"), ("de", "Grillkohle anzünden für die Grillparty"),
    ("pt", "despedida da escola, último dia"), ("pt", "queimei o pão de alho de novo"), ("it", "ultimo giorno di scuola, ciao prof"),
    ("nl", "laatste video van dit kanaal, volg mijn nieuwe"), ("pl", "ostatni dzień w pracy, dziękuję wszystkim"),
    ("tr", "taşınıyorum, eşyalarımı dağıtıyorum"), ("id", "hari terakhir sekolah, sampai jumpa teman-teman"),
    ("tl", "huling araw ko sa trabaho, salamat sa lahat"), ("hi", "aaj school ka aakhri din tha"),
    ("ja", "引っ越し前に家具を友達にあげた"), ("ko", "이번 시즌 마지막 영상이에요, 감사합니다"),
]
# fmt: on
