// Salsa20/12 keystream for several blocks at once on amd64, our own code.
//
// Layout ("vertical"): vector register lane k holds word i of block k, so the
// 16 state words become 16 vectors and the quarter-rounds are the plain
// scalar ones applied lane-wise; blocks differ only in the counter words 8
// and 9. SSE2 has no vector rotate, so rotl(v, r) = v<<r ^ v>>(32-r), and
// only 16 registers, so the state lives in the frame and each half-round
// loads the eight words of two quarter-rounds, updates them and stores them
// back (the CPU overlaps the independent halves).

#include "textflag.h"

// STEP: b ^= rotl(a+d, r), with temporaries t, u. SSE2 (two-operand).
#define STEP(a, d, b, r, rr, t, u) \
	MOVO a, t; PADDL d, t; MOVO t, u; PSLLL $r, t; PSRLL $rr, u; PXOR t, b; PXOR u, b

// QR: the Salsa20 quarter-round on (a, b, c, d).
#define QR(a, b, c, d, t, u) \
	STEP(a, d, b, 7, 25, t, u); \
	STEP(b, a, c, 9, 23, t, u); \
	STEP(c, b, d, 13, 19, t, u); \
	STEP(d, c, a, 18, 14, t, u)

// HALF: two quarter-rounds on state words at frame offsets a0..d0, a1..d1.
#define HALF(a0, b0, c0, d0, a1, b1, c1, d1) \
	MOVOU a0(SP), X0; MOVOU b0(SP), X1; MOVOU c0(SP), X2; MOVOU d0(SP), X3; \
	MOVOU a1(SP), X4; MOVOU b1(SP), X5; MOVOU c1(SP), X6; MOVOU d1(SP), X7; \
	QR(X0, X1, X2, X3, X8, X9); \
	QR(X4, X5, X6, X7, X10, X11); \
	MOVOU X0, a0(SP); MOVOU X1, b0(SP); MOVOU X2, c0(SP); MOVOU X3, d0(SP); \
	MOVOU X4, a1(SP); MOVOU X5, b1(SP); MOVOU X6, c1(SP); MOVOU X7, d1(SP)

// SPLAT: j[i] = state word i in all four lanes.
#define SPLAT(i) \
	MOVL (i*4)(BX), AX; MOVL AX, X0; PSHUFL $0, X0, X0; MOVOU X0, (256+i*16)(SP)

// LANE: counter words of lane k = R8 + k (64-bit, wrapping).
#define LANE(k) \
	LEAQ k(R8), AX; MOVL AX, (384+k*4)(SP); SHRQ $32, AX; MOVL AX, (400+k*4)(SP)

// OUT: words 4g..4g+3 of the four blocks: add the input, transpose lanes to
// blocks, XOR with src and store to dst.
#define OUT(g) \
	MOVOU (g*64)(SP), X0; MOVOU (256+g*64)(SP), X8; PADDL X8, X0; \
	MOVOU (g*64+16)(SP), X1; MOVOU (256+g*64+16)(SP), X9; PADDL X9, X1; \
	MOVOU (g*64+32)(SP), X2; MOVOU (256+g*64+32)(SP), X10; PADDL X10, X2; \
	MOVOU (g*64+48)(SP), X3; MOVOU (256+g*64+48)(SP), X11; PADDL X11, X3; \
	MOVO X0, X4; PUNPCKLLQ X1, X0; PUNPCKHLQ X1, X4; \
	MOVO X2, X5; PUNPCKLLQ X3, X2; PUNPCKHLQ X3, X5; \
	MOVO X0, X1; PUNPCKLQDQ X2, X0; PUNPCKHQDQ X2, X1; \
	MOVO X4, X3; PUNPCKLQDQ X5, X4; PUNPCKHQDQ X5, X3; \
	MOVOU (g*16)(SI), X8; PXOR X8, X0; MOVOU X0, (g*16)(DI); \
	MOVOU (64+g*16)(SI), X9; PXOR X9, X1; MOVOU X1, (64+g*16)(DI); \
	MOVOU (128+g*16)(SI), X10; PXOR X10, X4; MOVOU X4, (128+g*16)(DI); \
	MOVOU (192+g*16)(SI), X11; PXOR X11, X3; MOVOU X3, (192+g*16)(DI)

// func xorBlocks4SSE2(dst, src *byte, n uint64, st *state, counter uint64)
// XORs n groups of four blocks (256 bytes each) of src with the keystream
// starting at block counter. Frame: x[16] at 0, j[16] at 256 (16 bytes each).
TEXT ·xorBlocks4SSE2(SB), NOSPLIT, $512-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ st+24(FP), BX
	MOVQ counter+32(FP), R8
	TESTQ CX, CX
	JZ done
	SPLAT(0); SPLAT(1); SPLAT(2); SPLAT(3)
	SPLAT(4); SPLAT(5); SPLAT(6); SPLAT(7)
	SPLAT(10); SPLAT(11); SPLAT(12); SPLAT(13)
	SPLAT(14); SPLAT(15)

group:
	LANE(0); LANE(1); LANE(2); LANE(3)
	// x = j
	MOVOU 256(SP), X0; MOVOU X0, 0(SP)
	MOVOU 272(SP), X1; MOVOU X1, 16(SP)
	MOVOU 288(SP), X2; MOVOU X2, 32(SP)
	MOVOU 304(SP), X3; MOVOU X3, 48(SP)
	MOVOU 320(SP), X4; MOVOU X4, 64(SP)
	MOVOU 336(SP), X5; MOVOU X5, 80(SP)
	MOVOU 352(SP), X6; MOVOU X6, 96(SP)
	MOVOU 368(SP), X7; MOVOU X7, 112(SP)
	MOVOU 384(SP), X8; MOVOU X8, 128(SP)
	MOVOU 400(SP), X9; MOVOU X9, 144(SP)
	MOVOU 416(SP), X10; MOVOU X10, 160(SP)
	MOVOU 432(SP), X11; MOVOU X11, 176(SP)
	MOVOU 448(SP), X12; MOVOU X12, 192(SP)
	MOVOU 464(SP), X13; MOVOU X13, 208(SP)
	MOVOU 480(SP), X14; MOVOU X14, 224(SP)
	MOVOU 496(SP), X15; MOVOU X15, 240(SP)
	MOVQ $6, DX

doubleround:
	// Column round: (0,4,8,12) (5,9,13,1) | (10,14,2,6) (15,3,7,11).
	HALF(0, 64, 128, 192, 80, 144, 208, 16)
	HALF(160, 224, 32, 96, 240, 48, 112, 176)
	// Row round: (0,1,2,3) (5,6,7,4) | (10,11,8,9) (15,12,13,14).
	HALF(0, 16, 32, 48, 80, 96, 112, 64)
	HALF(160, 176, 128, 144, 240, 192, 208, 224)
	DECQ DX
	JNZ doubleround

	OUT(0); OUT(1); OUT(2); OUT(3)

	ADDQ $256, SI
	ADDQ $256, DI
	ADDQ $4, R8
	DECQ CX
	JNZ group

done:
	RET
