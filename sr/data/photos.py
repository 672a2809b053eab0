"""Training photographs, fetched from the Debian packages that publish them and checked byte for
byte, so a recipe trains on exactly the images its figures came from:

    python -m sr.data.photos datasets/photos                      # downloads two .deb files (141 MB)
    python -m sr.data.photos datasets/photos --debs ~/Downloads   # .deb files you already have
    python -m sr.data.photos datasets/photos --copy-from DIR      # a copy you already have (checked)
    python -m sr.data.photos datasets/photos_extra --set extra    # 15 more photographs (27 MB)
    python -m sr.data.photos datasets/textures --set textures     # 17 scanned paper textures (3 MB)

``--set photos`` (the default): the 19 photographs the bundled model and the photo recipes train on,
``mate/*.jpg`` (12, from ``mate-backgrounds`` 1.26.0, GPL-2+) and ``plasma/*.jpg`` (7, the 2560x1600
JPEG of each wallpaper of ``plasma-workspace-wallpapers`` 5.27.5, LGPL-3); 1280x1024 to 2560x1920.
``--set extra``: 15 photographs of the Ubuntu community's wallpaper contests shipped by
``lomiri-wallpapers-16.04`` and ``-20.04`` (animals, people's things, plants, mountains, a bridge;
CC0, CC-BY and CC-BY-SA; 1365x1074 to 6028x3391), content the first set lacks; ``--set textures``:
17 scans of paper, canvas and cork from ``mypaint-data-extras`` (CC0; 256x256 to 960x768). No recipe
uses these two sets yet. Each set writes ``LICENSES.md`` with authors and licences (the CC-BY ones
require attribution).

Every file's sha256 must match the set's list (and each package's its own), existing identical files
are kept, and an existing different file is an error (nothing is overwritten). The packages are read
in Python (:mod:`sr.data.debian`).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sr.atomic import atomic_write_bytes
from sr.data.debian import Package, PackageError, download, extract, find_deb

MAX_PHOTO = 32 << 20  # bytes; the largest photograph of either set is under 5 MB


class PhotosError(PackageError):
    """A download, package or file that does not match what the recipes were trained on."""


@dataclass(frozen=True)
class Photo:
    package: str  # key of the set's packages
    member: str  # path inside the package's data
    sha256: str


@dataclass(frozen=True)
class PhotoSet:
    packages: dict[str, Package]
    files: dict[str, Photo]  # output name (``group/file.jpg``) -> where it comes from
    licences: str


MATE = Package(
    "mate-backgrounds",
    "mate-backgrounds_1.26.0-1_all.deb",
    "7bf4c2209f34b4f61ba6d24c8b58c28b361e82e4b943aae6d42c030169af9e04",
    46638500,
)
PLASMA = Package(
    "plasma-workspace-wallpapers",
    "plasma-workspace-wallpapers_5.27.5-2_all.deb",
    "32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b",
    94047772,
)
LOMIRI_16 = Package(
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-16.04_20.04.0-2_all.deb",
    "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab",
    15783184,
    source="lomiri-wallpapers",
)
LOMIRI_20 = Package(
    "lomiri-wallpapers-20.04",
    "lomiri-wallpapers-20.04_20.04.0-2_all.deb",
    "d44e89b8473aafe64a5b678f014862dc31335aaaf18665c544d985d854f1a709",
    11377208,
    source="lomiri-wallpapers",
)


MYPAINT = Package(
    "mypaint-data-extras",
    "mypaint-data-extras_2.0.1-9_all.deb",
    "9d5971baa5eb411309940ea2cfe11aa7f6ec2c39e7f9ecd2bbef81fc6404b1d1",
    2873864,
    source="mypaint",
)


def _mate(name: str, sha: str) -> tuple[str, Photo]:
    return f"mate/{name}.jpg", Photo("mate", f"usr/share/backgrounds/mate/nature/{name}.jpg", sha)


def _plasma(name: str, sha: str) -> tuple[str, Photo]:
    member = f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg"
    return f"plasma/{name}.jpg", Photo("plasma", member, sha)


def _lomiri(name: str, sha: str, package: str = "16.04") -> tuple[str, Photo]:
    return f"lomiri/{name}.jpg", Photo(package, f"usr/share/backgrounds/{name}.jpg", sha)


def _mypaint(member: str, sha: str) -> tuple[str, Photo]:
    name = member.split("/")[-1].replace(" ", "_")
    return f"mypaint/{name}", Photo("mypaint", f"usr/share/mypaint/backgrounds/{member}", sha)


PHOTOS = PhotoSet(
    {"mate": MATE, "plasma": PLASMA},
    dict(
        [
            _mate("Aqua", "5c30118205982da441bf7e6a1ada636a8a0be879408140b3148280c665ed6bce"),
            _mate("Blinds", "f7aac0dcc2e06d0491643e84df3da1d9db7c4610f58806a880d56e074799f600"),
            _mate("Dune", "8a67c2cb0be8c46b70c237311a4fa4d2b4ac7d39568135384787801fa5cc9a91"),
            _mate("FreshFlower", "972b0a0c4e5e3fa93f4f244fc84bc64b121a5eac3aaa5856f1308c1f38a02f8e"),
            _mate("Garden", "d3095ee09d425ef23d27155412136cf14fc3c9af76ca58b452f55e23da324e78"),
            _mate("GreenMeadow", "8fa0de0aa4089f7319c9fb7a6d006d4cab6023e8c8853731557cff53567b4832"),
            _mate("LadyBird", "e35a9a4126ef969c90b29c038058c5a575a20eadd84106a37bf1fa9931e7b61d"),
            _mate("RainDrops", "3e4ea9671c28c90a86cf67b3db9daf18c4741587c596333a7529ca589aaa0c16"),
            _mate("Storm", "77ca53077831d3237f73393a91fc879158abc046d852941c26e90de336356957"),
            _mate("TwoWings", "665e5abf8a5399070a91a9a8e455fe071e5b61697ff78fdeda4e9843ef545aeb"),
            _mate("Wood", "19c78500ac00a622e19907ab9cc7d06d46fe08c4a6142759a84195696150ec07"),
            _mate("YellowFlower", "254da96256acb7add685679775a04d1e4a5bc8cd13e5a5a3d61351ce198a5306"),
            _plasma("BytheWater", "c272434ef39f2abf1ed48a15a8910088020f3165329a5092f3940ec9464bc05f"),
            _plasma("EveningGlow", "586682dcb362b9f620068f10138f87d0d3649939aef238adc5807cb951976a7a"),
            _plasma("FallenLeaf", "95603a6560c7e8d50e0e03b3f4adbe39c5258c72528e74e4ecaea1daf4e499de"),
            _plasma("Grey", "88c31d8944b7e6935d1b9a296654c692f0772cb512491713eb30a972a604c0ed"),
            _plasma("Kite", "bdca288ce296a981e80659c021cf707caddc702c0c8d4247e60bd618476d47f8"),
            _plasma("OneStandsOut", "cb507baf1dafdcae362264f3aba9483ed4be5f6c9fdd770f0ec0920c6d9e80fd"),
            _plasma("Path", "7477457d7f17b736259f1b021864778ad4ba802cf3214e6728181ff29126bba8"),
        ]
    ),
    """# Photographs: provenance and licences (written by `python -m sr.data.photos`)

`mate/`: the 12 photographs of the Debian package `mate-backgrounds` 1.26.0
(`usr/share/backgrounds/mate/nature/`). Licence GPL-2+ (that package's `copyright` file). Authors:
Charles Barbin (Aqua, Garden, LadyBird, YellowFlower; TwoWings with Hylke Bons), Lennart Poettering
and Andrea Cimitan (Blinds), Marco Cogoni and Hylke Bons (Dune), Jens Ansorg (FreshFlower), Timothy
Schellhase and Lapo Calamandrei (GreenMeadow), "blackcombwhistler07" (RainDrops), Sergey Nazarov
(Storm), Jean-François Fortin Tam (Wood).

`plasma/`: 7 photographs of the Debian package `plasma-workspace-wallpapers` 5.27.5 (the 2560x1600
JPEG of each): BytheWater (Maciej Wiklo), Grey (Sigi Sagi), EveningGlow (Ian Hex), FallenLeaf
(Martin Klapetek), Kite, OneStandsOut and Path (Risto Saukonpää). Licence LGPL-3.
""",
)
EXTRA = PhotoSet(
    {"16.04": LOMIRI_16, "20.04": LOMIRI_20},
    dict(
        [
            _lomiri(
                "Bridge_by_Sander_Klootwijk",
                "bd86b081f9975e2b83527f71e49b9271a8ab40885428395969d9f7d834d7f050",
            ),
            _lomiri("Dragonfly_by_Bolly", "af5af17841009732def24b09bb1e669a1b09d2b4bdeee7812c371101c30d2bb3"),
            _lomiri(
                "Picture_0B_by_freespace", "c8c0ab18e48d9e0419fe42881112137f3afafc27dfddc29ec3a6d54c56d225ad"
            ),
            _lomiri(
                "Picture_1A_by_freespace", "89e86af38d04daaef975665dc2127e9fa76f0fd68f4eea105a2d0ae3390b010b"
            ),
            _lomiri(
                "Wine_by_Jakkub_Mede", "d2e96e6d4da40dd804b3d0ce295e94de04a2d7d9b6785d42cd9d92ba58bced74"
            ),
            _lomiri(
                "aitzgorri_by_Aitzol_Berasategi",
                "66268e7b48f8854d36a28765fac6e23ec1aee251daa6da1f64715f201020ad36",
            ),
            _lomiri(
                "analogpattern_by_Peter_Nerlich",
                "15372488a192b2be2eafc67bd3ed31cbfca19abe3929e925607fcbc9cb4d4202",
            ),
            _lomiri(
                "free_by_Peter_Nerlich", "85a5453c2fed514c75973016f3d862aca62eb7ca087618822469274ac1092373"
            ),
            _lomiri(
                "friends_by_Aitzol_Berasategi",
                "cc40e313c74e421edffe3403def413c16878ce14661cce7ec5915baeab35538d",
            ),
            _lomiri(
                "greentock_by_Peter_Nerlich",
                "e7b20e2db9dcd6e2b278ca55873c2110b35d89cd38b04d0b18728726888e6889",
            ),
            _lomiri(
                "life_by_Aitzol_Berasategi",
                "4c119350ead80201fe256850c3d316309ddfb4bdf10b235ce982dcde0c667c05",
            ),
            _lomiri(
                "picosdeeuropa_by_Aitzol_Berasategi",
                "414d0072b2f6f2c555deafeaef6e45c4fed6fa9ad26eba6560ca8803959cf97a",
            ),
            _lomiri(
                "seeding_by_Clements_Engelhardt",
                "a5634d1ab5e41a3568e92d4a894a500c92b891f9ff734e50bd224d6e185a605f",
            ),
            _lomiri(
                "sunset_by_Aitzol_Berasategi",
                "474dab6a4b9f94dc76c29dfe30e9f5db4af0fd2e33fe5d695f8152b371efca18",
            ),
            _lomiri(
                "Kleiber_by_Lukas_Baubkus",
                "6572410c09f4492c74ccadde133565a14c0161617d5917d4c820c66d65a44ba7",
                "20.04",
            ),
        ]
    ),
    """# Photographs: provenance and licences (written by `python -m sr.data.photos --set extra`)

`lomiri/`: 15 photographs of the Ubuntu community wallpaper contests, as shipped by the Debian
packages `lomiri-wallpapers-16.04` and `lomiri-wallpapers-20.04` 20.04.0-2 (`usr/share/backgrounds/`;
their `copyright` files). The file names carry the authors' names.

- CC-BY-4.0 (attribution required): Aitzol Berasategi, 2018 (aitzgorri, friends, life, picosdeeuropa,
  sunset); Trevor "Freespace", 2018 (Picture_0B, Picture_1A); Jakub Mede, 2018 (Wine).
- CC-BY-SA-4.0 (attribution, share-alike): Sander Klootwijk, 2018 (Bridge); "Bolly", 2018
  (Dragonfly); Peter Nerlich, 2018 (analogpattern, free, greentock).
- CC-BY-SA-3.0: Lukas Baubkus, 2021 (Kleiber).
- CC0-1.0: Clemens Engelhardt, 2018 (seeding).

The packages' abstract and rendered wallpapers (Fossa, Infinite-Sea, Painting-Colors, umang,
warty-final-ubuntu) are left out: they are not photographs.
""",
)
TEXTURES = PhotoSet(
    {"mypaint": MYPAINT},
    dict(
        [
            _mypaint(
                "mrmamurk/mamurk_a_1.png", "01dc26395fd4d1e5a9abd0e793f56c016ad0826c0f2942fe5b4277ff6afc15f9"
            ),
            _mypaint(
                "mrmamurk/mamurk_a_2.png", "24a5665704248e5d911e9fdbf50ca9048f41ae186017b3bf828818d634c39ae2"
            ),
            _mypaint(
                "mrmamurk/mamurk_b_1.png", "b2ff84c1f9649d2a171db4aff25d0f4c0fbd62ca7d6f9bcf46bb288a8488cd6c"
            ),
            _mypaint(
                "mrmamurk/mamurk_c_3.png", "702de8987bc0ea42ef4a8be91eedc85c3ea0b47d7a1aae30ca6e1dc1578bdaa5"
            ),
            _mypaint(
                "mrmamurk/mamurk_e_1.png", "ae1472c574a5a57d107785405e8eedf1140eb6e8e7a6c9feb8251f78ee2ca0e1"
            ),
            _mypaint(
                "mrmamurk/mamurk_e_2.png", "db4755f0e30568179ded1282fc82c1ee03a4cab23dc90b0135bdfcbcfce2a255"
            ),
            _mypaint(
                "mrmamurk/mamurk_f_1.png", "a2b9a02cff3cb74074fc0a86a60a41ca2b3d4bbf24689f98a98c149fca3e5866"
            ),
            _mypaint(
                "ramon/HR_Canvas 01.png", "3bbe8fc626a26ef7d491d4dc63497bf11f4f35a734043d97aa3dbb90d7c08592"
            ),
            _mypaint(
                "ramon/HR_Canvas 02.png", "a0571ca5af729d23f1846eca09ca881fe921f610331283b07d3e4d1d1d704f47"
            ),
            _mypaint("ramon/HR_Cork.png", "abb1c9d5ae5ef55b5f0a3927e50c671e334c7ed9edd08d1f323b1de79566573e"),
            _mypaint(
                "ramon/HR_DecoPaper.png", "da86b40e4e65918ebae75e79e63a8a4cede4f3c2b3c0240a643d62517f2f2abd"
            ),
            _mypaint(
                "ramon/HR_PastelPaper 01.png",
                "169b0bd33744086d03d50610a55e669941c14fadfe8b3d21a1afe6717e9b7260",
            ),
            _mypaint(
                "ramon/HR_PastelPaper 02.png",
                "cca88395e2b90a18e5a6c2086cbc04837b648d62a66ed6246dd709723f79fa6d",
            ),
            _mypaint(
                "ramon/HR_RoughPaper.png", "7834a032996bcce2c59f582611d86564756ead94e27ee4d2c0cf29b5eede4dbd"
            ),
            _mypaint(
                "ramon/HR_SketchPaper 02.png",
                "f805f9af09ac22a47ad3feae4d8140311a0407255e77e743180db5ae55a418ea",
            ),
            _mypaint(
                "ramon/HR_SketchPaper.png", "eab925ab19d4189d279282a5c21f4cec6273ee6f33f2419dc4ef1ea5b4a168e1"
            ),
            _mypaint(
                "ramon/HR_WaterColor.png", "b438cbdede1361b322ec623e77e3e84f073a8abb637e322c176fbd9996025855"
            ),
        ]
    ),
    """# Textures: provenance and licences (written by `python -m sr.data.photos --set textures`)

`mypaint/`: the 17 paper and surface textures of the Debian package `mypaint-data-extras` 2.0.1-9
(`usr/share/mypaint/backgrounds/`; its `copyright` file), scans made for MyPaint's backgrounds,
256x256 to 960x768. Licence CC0-1.0 for all of them: MrMamurk, 2011 (`mamurk_*`, "based on my own
scanning"); Ramón Miranda, 2010 (`HR_*`: canvas, cork, papers, watercolour; spaces in the names are
underscores here).
""",
)
SETS = {"photos": PHOTOS, "extra": EXTRA, "textures": TEXTURES}


def _place(dst: Path, data: bytes, expected: str, source: str) -> None:
    """Write ``data`` to ``dst`` if its sha256 is ``expected``; keep an identical existing file."""
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise PhotosError(f"{source}: sha256 {got[:16]}... is not the expected {expected[:16]}...")
    if dst.exists():
        if hashlib.sha256(dst.read_bytes()).hexdigest() == expected:
            return
        raise PhotosError(f"{dst} exists with other content; move it away (nothing is overwritten)")
    atomic_write_bytes(dst, data, exclusive=True)


def extract_from_deb(deb_path: Path, photo_set: PhotoSet, package: str, out: Path) -> list[str]:
    """Write the photographs of ``photo_set`` that ``package`` holds, from the file ``deb_path``,
    into ``out``; their names."""
    names = {f.member: name for name, f in photo_set.files.items() if f.package == package}

    def take(member: str, data: bytes) -> None:
        name = names[member]
        _place(out / name, data, photo_set.files[name].sha256, f"{deb_path}:{member}")

    extract(deb_path, names, take, MAX_PHOTO)
    return sorted(names.values())


def fetch(
    out: Path, debs: Path | None = None, copy_from: Path | None = None, photo_set: PhotoSet = PHOTOS
) -> list[Path]:
    """Write ``photo_set``'s photographs and ``LICENSES.md`` into ``out`` (module docstring)."""
    if copy_from is not None:
        for name, photo in photo_set.files.items():
            src = copy_from / name
            if not src.is_file():
                raise PhotosError(f"--copy-from {copy_from}: {name} is missing")
            if src.stat().st_size > MAX_PHOTO:
                raise PhotosError(f"{src}: {src.stat().st_size} bytes, larger than any of the photographs")
            _place(out / name, src.read_bytes(), photo.sha256, str(src))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for key, package in photo_set.packages.items():
                deb = find_deb(debs, package) if debs is not None else download(package, Path(tmp))
                extract_from_deb(deb, photo_set, key, out)
    licences = out / "LICENSES.md"
    if not licences.exists():
        atomic_write_bytes(licences, photo_set.licences.encode())
    return [out / n for n in photo_set.files]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m sr.data.photos",
        description="Fetch training photographs from the Debian packages that publish them (sha256 checked).",
    )
    p.add_argument("out", type=Path, help="folder to write (e.g. datasets/photos)")
    p.add_argument("--set", choices=list(SETS), default="photos", help="which photographs (default: photos)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--debs", type=Path, help="a folder holding the set's .deb files (no download)")
    src.add_argument("--copy-from", type=Path, help="a folder holding the set's files already (checked)")
    args = p.parse_args(argv)
    try:
        paths = fetch(args.out, args.debs, args.copy_from, SETS[args.set])
    except (PackageError, OSError) as err:
        print(f"sr.data.photos: error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"{len(paths)} photographs in {args.out} (sha256 checked); licences in {args.out / 'LICENSES.md'}")


if __name__ == "__main__":
    main()
