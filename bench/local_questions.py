"""20 simple questions with known answers for the local benchmark: arithmetic, counting, string manipulation,
unit conversion, and CSV totals read through the document worker. The gold answers follow the GAIA scorer's
rules (numbers without units or separators)."""

SALES_CSV = "region,units,price\nnorth,12,2.5\nsouth,7,4\neast,20,1.25\nwest,3,10\n"
STOCK_CSV = "item,count\napples,14\npears,9\nplums,23\nfigs,6\n"

NUMBER = "Answer with the number only."

QUESTIONS = [
    # arithmetic
    {"id": "arith-1", "question": "What is 17 * 23? Check it with Python.", "gold": "391", "format": NUMBER},
    {"id": "arith-2", "question": "What is 1234 + 5678?", "gold": "6912", "format": NUMBER},
    {"id": "arith-3", "question": "What is 2 to the power of 10?", "gold": "1024", "format": NUMBER},
    {"id": "arith-4", "question": "What is 144 divided by 12?", "gold": "12", "format": NUMBER},
    {"id": "arith-5", "question": "What is the sum of the integers from 1 to 100?", "gold": "5050", "format": NUMBER},
    # counting
    {"id": "count-1", "question": "How many times does the letter r appear in the word strawberry?", "gold": "3",
     "format": NUMBER},
    {"id": "count-2", "question": "How many words are in the sentence 'the quick brown fox jumps over the lazy dog'?",
     "gold": "9", "format": NUMBER},
    {"id": "count-3", "question": "How many prime numbers are there below 20?", "gold": "8", "format": NUMBER},
    {"id": "count-4", "question": "How many vowels are in the word 'encyclopedia'?", "gold": "5", "format": NUMBER},
    # strings
    {"id": "str-1", "question": "Reverse the string 'workforce'.", "gold": "ecrofkrow",
     "format": "Answer with the string only."},
    {"id": "str-2", "question": "Write the word 'planner' in upper case.", "gold": "PLANNER",
     "format": "Answer with the word only."},
    {"id": "str-3", "question": "How many characters long is the string 'coordinator'?", "gold": "11",
     "format": NUMBER},
    {"id": "str-4", "question": "Sort the letters of 'nats' alphabetically.", "gold": "anst",
     "format": "Answer with the sorted letters only."},
    # unit conversion
    {"id": "unit-1", "question": "How many meters are in 3.5 kilometers?", "gold": "3500", "format": NUMBER},
    {"id": "unit-2", "question": "How many minutes are in 6 hours?", "gold": "360", "format": NUMBER},
    {"id": "unit-3", "question": "Convert 100 degrees Celsius to Fahrenheit.", "gold": "212", "format": NUMBER},
    {"id": "unit-4", "question": "How many grams are in 2.5 kilograms?", "gold": "2500", "format": NUMBER},
    # documents
    {"id": "csv-1", "question": "What is the total of the units column in the attached sales.csv?", "gold": "42",
     "format": NUMBER, "file": ("sales.csv", SALES_CSV)},
    {"id": "csv-2", "question": "What is the total count of all items in the attached stock.csv?", "gold": "52",
     "format": NUMBER, "file": ("stock.csv", STOCK_CSV)},
    {"id": "csv-3", "question": "How many rows of data (not counting the header) are in the attached sales.csv?",
     "gold": "4", "format": NUMBER, "file": ("sales.csv", SALES_CSV)},
]
