from tests.tiktok_emulator.server import main

main()
