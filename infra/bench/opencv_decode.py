#!/usr/bin/env python3
"""OpenCV's QR decoders on the decode-bench pictures, for side-by-side figures.

Usage: opencv_decode.py DIR  -- reads every DIR/*.jpg and prints one JSON line per
picture: {"file", "qrcode": {"texts", "ms", "cpu_ms"}, "wechat": {...}}.

Each time covers what our decoder's time covers: decoding the JPEG bytes (already
in memory) to grayscale plus the detector's detectAndDecode, on one thread; both
wall-clock and the thread's CPU time.
Run by functions/local/src/bin/decode-bench.rs; needs opencv-contrib-python-headless.
"""
import json
import os
import sys
import time

import cv2
import numpy as np


def timed(decode, data):
    started, cpu = time.perf_counter(), time.thread_time()
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    texts = decode(image) if image is not None else []
    return {
        "texts": texts,
        "ms": (time.perf_counter() - started) * 1000.0,
        "cpu_ms": (time.thread_time() - cpu) * 1000.0,
    }


def main():
    directory = sys.argv[1]
    cv2.setNumThreads(1)
    detector = cv2.QRCodeDetector()
    # Without model files WeChat's reader uses its traditional (non-CNN) detector.
    wechat = cv2.wechat_qrcode_WeChatQRCode()

    def opencv(image):
        text, _points, _straight = detector.detectAndDecode(image)
        return [text] if text else []

    def wechat_decode(image):
        texts, _points = wechat.detectAndDecode(image)
        return [t for t in texts if t]

    # One warm-up call each, so that lazy initialisation is not billed to a picture.
    blank = np.full((64, 64), 255, dtype=np.uint8)
    detector.detectAndDecode(blank)
    wechat.detectAndDecode(blank)

    for name in sorted(os.listdir(directory)):
        if not name.endswith(".jpg"):
            continue
        with open(os.path.join(directory, name), "rb") as f:
            data = np.frombuffer(f.read(), dtype=np.uint8)
        line = {
            "file": name,
            "qrcode": timed(opencv, data),
            "wechat": timed(wechat_decode, data),
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
